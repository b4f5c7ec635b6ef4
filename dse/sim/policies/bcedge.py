"""bcedge: BCEdge-style batch size on n concurrent instances (Zhang et al., arXiv
2305.01519), our reconstruction: each instance is a 1/n slice of the PE array; each
dispatch picks the batch size maximising throughput x (slack / latency)^latency_weight."""

from __future__ import annotations

from dse.sim._jit import ONE, njit
from dse.sim._state import (
    ACT_CONTINUE,
    ACT_START,
    INF,
    LT_CUM,
    RF_DEADLINE,
    XI_CTX,
    oldest_model,
    qlen,
    qpeek,
)
from dse.sim.policies._shared import MAX_BATCH, wait_forever
from dse.sim.registry import Param, Policy, always_continues, param_slots

PARAMS = (Param("instances", "int", 2, 1, 8, False,
                "concurrent model instances, each a 1/n slice of the PE array"),
          MAX_BATCH,
          Param("latency_weight", "float", 2.0, 0.0, 10.0, False,
                "exponent of the latency penalty in the utility"))
P = param_slots(PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    if st.xi[XI_CTX, x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    m = oldest_model(st)
    if m < 0:
        return wait_forever()
    gamma = p[P.latency_weight]
    bmax = min(qlen(st, m), int(p[P.max_batch]))
    slack = st.rf[RF_DEADLINE, qpeek(st, m, 0)] - now
    last = tb.n_layers[m] - 1
    best_b = ONE
    best_u = -INF
    for b in range(1, bmax + 1):
        t = tb.lt[LT_CUM, m, last, b]
        u = b / t
        if slack > 0.0 and t > slack:
            u = u * (slack / t) ** gamma
        if u > best_u:
            best_u = u
            best_b = b
    return ACT_START, m, best_b, 0.0


POLICY = Policy(
    "bcedge",
    "BCEdge: n concurrent instances (PE-array slices); each dispatch picks the batch "
    "size maximizing throughput x (slack/latency)^latency_weight", PARAMS, decide,
    continues_at=always_continues, instances_param="instances", reconstruction=True)
