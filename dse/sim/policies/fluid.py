"""fluid: Fluid Batching's exit-aware preemptive scheduler (Kouris et al., arXiv
2209.13443), our reconstruction (rules in docs/simulator.md, section ``fluid``).

It predicts with the exit profile (``dse.sim._predict`` tables), never with a request's
actual exit: a new batch takes the size of best expected throughput from the latency
table; at a layer boundary, queued samples catch up when the expected total latency
(members, newcomers, the rest of the queue) falls, and never at the expense of a member
that is still on time.
"""

from __future__ import annotations

from numba import njit

from dse.sim._state import ACT_CATCHUP, ACT_CONTINUE, ACT_START, INF, oldest_model, qlen
from dse.sim.policies._shared import MAX_BATCH, wait_forever
from dse.sim.registry import Param, Policy, param_slots

PARAMS = (MAX_BATCH,
          Param("refill_level", "float", 1.0, 0.0, 1.0, False,
                "refill only when active samples <= refill_level x max_batch"),
          Param("catchup_last", "float", 1.0, 0.0, 1.0, False,
                "latest layer for catch-up, as a fraction of the model depth"),
          Param("min_queue", "int", 1, 1, 64, False, "queued samples needed before a refill"),
          Param("slack_ms", "float", 0.0, 0.0, 100.0, False,
                "margin kept before the deadlines of members still on time (ms)"))
P = param_slots(PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def start_size(tb, m, bmax):
    """Batch size in ``1..bmax`` of best expected throughput ``b / erem[0, b]`` (the
    smallest on ties): the latency table decides, so a cliff such as a DRAM spill at
    some ``b`` is avoided."""
    best = 1
    for b in range(2, bmax + 1):
        if b * tb.erem[m, 0, best] > best * tb.erem[m, 0, b]:
            best = b
    return best


@njit(cache=True, inline="always", _nrt=False)
def interp(t, m, i, x):
    """``t[m, i, x]`` at a fractional sample count ``x`` (linear between neighbours)."""
    lo = int(x)
    f = x - lo
    if f == 0.0:
        return t[m, i, lo]
    return t[m, i, lo] + f * (t[m, i, lo + 1] - t[m, i, lo])


@njit(cache=True, inline="always", _nrt=False)
def refill_size(st, tb, p, c, m, q, kmax, now):
    """Samples to catch up into batch ``c`` (paused before layer ``ld``), 0 for none.

    Protected members: on time under the worst case without the refill
    (``deadline - slack >= w0``) must stay so under the worst case with it; on time only
    in expectation (``>= e0``) must stay so in expectation.  Among the allowed ``k``, the
    one of least expected cost ``dJ`` (member-ms with the refill minus without, see
    docs/simulator.md) is taken when ``dJ < 0``.
    """
    ld = st.c_layer[c]
    n = st.c_n[c]
    L = tb.n_layers[m]
    slack = p[P.slack_ms]
    r0 = tb.erem[m, ld, n]
    s0 = tb.esum[m, ld, n]
    w0 = now + (tb.whi[m, L, n] - tb.whi[m, ld, n])
    e0 = now + r0
    d_w = INF
    d_e = INF
    for j in range(n):
        d = st.deadline[st.c_mem[c, j]] - slack
        if d >= w0:
            if d < d_w:
                d_w = d
        elif d >= e0 and d < d_e:
            d_e = d
    a = tb.alive[m, ld]
    best_k = 0
    best = 0.0
    for k in range(1, kmax + 1):
        if now + tb.whi[m, ld, k] + (tb.whi[m, L, n + k] - tb.whi[m, ld, n + k]) > d_w:
            break  # the worst case only grows with k
        x = n + k * a
        pk = tb.epre[m, ld, k]
        e1 = pk + interp(tb.erem, m, ld, x)
        if now + e1 > d_e:
            continue
        cost = (n * pk + tb.epsum[m, ld, k] + interp(tb.esum, m, ld, x)
                - (s0 + k * r0 + tb.esum[m, 0, k])
                + (q - k) * (e1 - (r0 + tb.erem[m, 0, k])))
        if cost < best:
            best = cost
            best_k = k
    return best_k


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
        m = oldest_model(st)
        if m < 0:
            return wait_forever()
        return ACT_START, m, start_size(tb, m, min(qlen(st, m), mb)), 0.0
    m = st.c_model[c]
    q = qlen(st, m)
    n = st.c_n[c]
    if _may_refill(tb, p, m, q, n, st.c_layer[c] - 1):
        k = refill_size(st, tb, p, c, m, q, min(q, mb - n), now)
        if k > 0:
            return ACT_CATCHUP, m, k, 0.0
    return ACT_CONTINUE, -1, 0, 0.0


@njit(cache=True, inline="always", _nrt=False)
def continues_at(st, tb, p, x, c, m, layer, n):
    """No refill could be considered at the boundary before ``layer``."""
    return not _may_refill(tb, p, m, qlen(st, m), n, layer - 1)


POLICY = Policy(
    "fluid",
    "Fluid Batching: exit-aware preemptive refill; batch sizes from the latency table, "
    "queued samples catch up to the paused batch when the expected latency falls and "
    "no on-time member becomes late", PARAMS, decide,
    continues_at=continues_at, reconstruction=True)
