"""static: Triton / TF-Serving dynamic batching (max batch size, max queue delay)."""

from __future__ import annotations

from dse.sim._jit import MINUS_ONE, njit
from dse.sim._state import (
    ACT_CONTINUE,
    ACT_START,
    ACT_WAIT,
    INF,
    RF_ARRIVAL,
    XI_CTX,
    oldest_model,
    qlen,
    qpeek,
)
from dse.sim.policies._shared import MAX_BATCH, wait_forever
from dse.sim.registry import Param, Policy, always_continues, param_slots

PARAMS = (MAX_BATCH,
          Param("max_queue_delay_ms", "float", 2.0, 0.0, 200.0, False,
                "longest wait of the oldest request before dispatch (ms)"))
P = param_slots(PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    if st.xi[XI_CTX, x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    mb = int(p[P.max_batch])
    M = st.q.shape[1]
    full = MINUS_ONE
    t_full = INF
    for m in range(M):  # a full batch goes first (oldest head among full queues)
        if qlen(st, m) >= mb:
            a = st.rf[RF_ARRIVAL, qpeek(st, m, 0)]
            if a < t_full:
                t_full = a
                full = m
    if full >= 0:
        return ACT_START, full, mb, 0.0
    m = oldest_model(st)
    if m < 0:
        return wait_forever()
    due = st.rf[RF_ARRIVAL, qpeek(st, m, 0)] + p[P.max_queue_delay_ms]
    if now >= due:
        return ACT_START, m, qlen(st, m), 0.0
    return ACT_WAIT, -1, 0, due


POLICY = Policy(
    "static",
    "Triton/TF-Serving dynamic batching: dispatch at max_batch or when the oldest "
    "request has waited max_queue_delay_ms", PARAMS, decide,
    continues_at=always_continues)
