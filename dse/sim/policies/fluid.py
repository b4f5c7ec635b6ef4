"""fluid: Fluid Batching's exit-aware preemptive refill (Kouris et al., arXiv 2209.13443),
our reconstruction (rules in docs/simulator.md)."""

from __future__ import annotations

from numba import njit

from dse.sim._state import ACT_CATCHUP, ACT_CONTINUE, qlen
from dse.sim.policies._shared import MAX_BATCH, admit, start_oldest
from dse.sim.registry import Param, Policy, param_slots

PARAMS = (MAX_BATCH,
          Param("refill_level", "float", 1.0, 0.0, 1.0, False,
                "refill only when active samples <= refill_level x max_batch"),
          Param("catchup_last", "float", 0.5, 0.0, 1.0, False,
                "latest layer for catch-up, as a fraction of the model depth"),
          Param("min_queue", "int", 1, 1, 64, False, "queued samples needed before a refill"),
          Param("slack_ms", "float", 0.0, 0.0, 100.0, False,
                "margin kept before the deadlines of members still on time (ms)"))
P = param_slots(PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def _may_refill(tb, p, m, q, n, l_done):
    """Queued samples, a free slot, enough queued, early enough, batch low enough."""
    mb = int(p[P.max_batch])
    if q == 0 or n >= mb:
        return False
    if q < int(p[P.min_queue]):
        return False
    if l_done > int(p[P.catchup_last] * (tb.n_layers[m] - 1)):
        return False
    return n <= p[P.refill_level] * mb


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    mb = int(p[P.max_batch])
    c = st.x_ctx[x]
    if c < 0:
        return start_oldest(st, mb)
    m = st.c_model[c]
    q = qlen(st, m)
    n = st.c_n[c]
    if _may_refill(tb, p, m, q, n, st.c_layer[c] - 1):
        k = admit(st, tb, c, m, min(q, mb - n), p[P.slack_ms], True)
        if k > 0:
            return ACT_CATCHUP, m, k, 0.0
    return ACT_CONTINUE, -1, 0, 0.0


@njit(cache=True, inline="always", _nrt=False)
def continues_at(st, tb, p, x, c, m, layer, n):
    """No refill could be considered at the boundary before ``layer``."""
    return not _may_refill(tb, p, m, qlen(st, m), n, layer - 1)


POLICY = Policy(
    "fluid",
    "Fluid Batching: exit-aware preemptive refill; when early exits free slots, queued "
    "samples catch up to the paused batch's layer and merge", PARAMS, decide,
    continues_at=continues_at, reconstruction=True)
