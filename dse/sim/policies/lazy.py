"""lazy: LazyBatching (Choi et al., HPCA 2021), our reconstruction: queued samples join
the in-flight batch at a layer boundary by catch-up when every member stays on time."""

from __future__ import annotations

from dse.sim._jit import njit
from dse.sim._state import (
    ACT_CATCHUP,
    ACT_CONTINUE,
    CI_MODEL,
    CI_N,
    XI_CTX,
    qlen,
)
from dse.sim.policies._shared import MAX_BATCH, admit, start_oldest
from dse.sim.registry import Param, Policy, param_slots

PARAMS = (MAX_BATCH,
          Param("slack_ms", "float", 0.0, 0.0, 100.0, False,
                "safety margin kept before every member's deadline (ms)"))
P = param_slots(PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    mb = int(p[P.max_batch])
    c = st.xi[XI_CTX, x]
    if c < 0:
        return start_oldest(st, mb)
    m = st.ci[CI_MODEL, c]
    q = qlen(st, m)
    n = st.ci[CI_N, c]
    if q > 0 and n < mb:
        k = admit(st, tb, c, m, min(q, mb - n), p[P.slack_ms])
        if k > 0:
            return ACT_CATCHUP, m, k, 0.0
    return ACT_CONTINUE, -1, 0, 0.0


@njit(cache=True, inline="always", _nrt=False)
def continues_at(st, tb, p, x, c, m, layer, n):
    """Nothing queued for the batch's model, or the batch is full."""
    return qlen(st, m) == 0 or n >= int(p[P.max_batch])


POLICY = Policy(
    "lazy",
    "LazyBatching: queued samples join the in-flight batch at any layer boundary by "
    "catch-up when the predicted finish keeps every member within its SLO minus slack",
    PARAMS, decide, continues_at=continues_at, reconstruction=True)
