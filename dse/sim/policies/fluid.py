"""fluid: Fluid Batching's exit-aware preemptive scheduler (Kouris et al., arXiv
2209.13443), our reconstruction (rules in docs/simulator.md, section ``fluid``).

It predicts with the exit profile (``dse.sim._predict`` tables), never with a request's
actual exit: a new batch takes the size of best expected throughput from the latency
table; at a layer boundary, queued samples catch up when the expected total latency
(members, newcomers, the rest of the queue) falls, and another model's job preempts the
batch when it would otherwise miss its deadline; neither ever makes a member that is
still on time late.
"""

from __future__ import annotations

from dse.sim._jit import COMPILED_ONCE, MINUS_ONE, ONE, ZERO, njit
from dse.sim._state import (
    ACT_CATCHUP,
    ACT_CONTINUE,
    ACT_RESUME,
    ACT_START,
    CI_LAYER,
    CI_MODEL,
    CI_N,
    CI_OPEN,
    FV_NOW,
    INF,
    MAIN,
    PT_EPRE,
    PT_EPSUM,
    PT_EREM,
    PT_ESUM,
    PT_WHI,
    RF_DEADLINE,
    XI_CTX,
    oldest_model,
    qlen,
    qpeek,
)
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
    best = ONE
    for b in range(2, bmax + 1):
        if b * tb.pt[PT_EREM, m, 0, best] > best * tb.pt[PT_EREM, m, 0, b]:
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


@njit(**COMPILED_ONCE)
def protected(st, c, slack, w0, e0):
    """``(d_w, d_e)``: the earliest ``deadline - slack`` of the members of batch ``c``
    that are on time under the worst case (finish ``w0``), and of those on time only in
    expectation (finish ``e0``); ``inf`` when there are none."""
    d_w = INF
    d_e = INF
    for j in range(st.ci[CI_N, c]):
        d = st.rf[RF_DEADLINE, st.mem[MAIN, c, j]] - slack
        if d >= w0:
            if d < d_w:
                d_w = d
        elif d >= e0 and d < d_e:
            d_e = d
    return d_w, d_e


@njit(cache=True, inline="always", _nrt=False)
def refill_size(st, tb, p, c, m, ld, n, q, kmax, now):
    """Samples to catch up into batch ``c`` (``n`` active, paused before layer ``ld``),
    0 for none.

    Protected members: on time under the worst case without the refill
    (``deadline - slack >= w0``) must stay so under the worst case with it; on time only
    in expectation (``>= e0``) must stay so in expectation.  Among the allowed ``k``, the
    one of least expected cost ``dJ`` (member-ms with the refill minus without, see
    docs/simulator.md) is taken when ``dJ < 0``.
    """
    L = tb.n_layers[m]
    r0 = tb.pt[PT_EREM, m, ld, n]
    s0 = tb.pt[PT_ESUM, m, ld, n]
    d_w, d_e = protected(st, c, p[P.slack_ms], now + (tb.pt[PT_WHI, m, L, n] - tb.pt[PT_WHI, m, ld, n]),
                         now + r0)
    a = tb.alive[m, ld]
    best_k = ZERO
    best = 0.0
    for k in range(1, kmax + 1):
        if now + tb.pt[PT_WHI, m, ld, k] + (tb.pt[PT_WHI, m, L, n + k] - tb.pt[PT_WHI, m, ld, n + k]) > d_w:
            break  # the worst case only grows with k
        x = n + k * a
        pk = tb.pt[PT_EPRE, m, ld, k]
        e1 = pk + interp(tb.pt[PT_EREM], m, ld, x)
        if now + e1 > d_e:
            continue
        cost = (n * pk + tb.pt[PT_EPSUM, m, ld, k] + interp(tb.pt[PT_ESUM], m, ld, x)
                - (s0 + k * r0 + tb.pt[PT_ESUM, m, 0, k])
                + (q - k) * (e1 - (r0 + tb.pt[PT_EREM, m, 0, k])))
        if cost < best:
            best = cost
            best_k = k
    return best_k


@njit(**COMPILED_ONCE)
def job(st, tb, p, x, m, mb):
    """Model ``m``'s next job on executor ``x``: ``(act, k, latest start, worst ms)``;
    resume its paused batch, or start ``start_size`` of its queue (``act = -1``: none).
    Latest start = earliest ``deadline - slack`` of the job minus its expected time."""
    c = x * tb.lt.shape[1] + m
    slack = p[P.slack_ms]
    L = tb.n_layers[m]
    if st.ci[CI_OPEN, c]:
        n = st.ci[CI_N, c]
        ld = st.ci[CI_LAYER, c]
        d = INF
        for j in range(n):
            if st.rf[RF_DEADLINE, st.mem[MAIN, c, j]] < d:
                d = st.rf[RF_DEADLINE, st.mem[MAIN, c, j]]
        return ACT_RESUME, 0, d - slack - tb.pt[PT_EREM, m, ld, n], tb.pt[PT_WHI, m, L, n] - tb.pt[PT_WHI, m, ld, n]
    q = qlen(st, m)
    if q == 0:
        return -1, 0, INF, 0.0
    b = start_size(tb, m, min(q, mb))
    return ACT_START, b, st.rf[RF_DEADLINE, qpeek(st, m, 0)] - slack - tb.pt[PT_EREM, m, 0, b], tb.pt[PT_WHI, m, L, b]


@njit(cache=True, inline="always", _nrt=False)
def idle_choice(st, tb, p, x, mb, now):
    """Idle executor: of the jobs that can still start on time (latest start >= now), the
    one of earliest latest start; when none can, a paused batch, else the oldest queue."""
    best_act = MINUS_ONE
    best_m = MINUS_ONE
    best_k = ZERO
    best_lst = INF
    for m in range(tb.lt.shape[1]):
        act, k, lst, w = job(st, tb, p, x, m, mb)
        if act >= 0 and lst >= now and lst < best_lst:
            best_act, best_m, best_k, best_lst = act, m, k, lst
    if best_act >= 0:
        return best_act, best_m, best_k, 0.0
    for m in range(tb.lt.shape[1]):
        if st.ci[CI_OPEN, x * tb.lt.shape[1] + m]:
            return ACT_RESUME, m, 0, 0.0
    m = oldest_model(st)
    if m < 0:
        return wait_forever()
    return ACT_START, m, start_size(tb, m, min(qlen(st, m), mb)), 0.0


@njit(cache=True, inline="always", _nrt=False)
def preemption(st, tb, p, x, c, m, ld, n, mb, now):
    """Another model's job that would miss its start waiting for batch ``c`` (``n``
    active, before layer ``ld``; latest start in ``[now, now + expected remaining)``) and
    that every protected member of ``c`` can afford under the worst case; the earliest
    latest start wins (``act = -1``: none)."""
    L = tb.n_layers[m]
    w_rem = tb.pt[PT_WHI, m, L, n] - tb.pt[PT_WHI, m, ld, n]
    e_rem = tb.pt[PT_EREM, m, ld, n]
    d_w, _ = protected(st, c, p[P.slack_ms], now + w_rem, now + e_rem)
    best_act = MINUS_ONE
    best_m = MINUS_ONE
    best_k = ZERO
    best_lst = INF
    for o in range(tb.lt.shape[1]):
        if o == m:
            continue
        act, k, lst, w = job(st, tb, p, x, o, mb)
        if act < 0 or lst < now or lst >= now + e_rem or now + w + w_rem > d_w:
            continue
        if lst < best_lst:
            best_act, best_m, best_k, best_lst = act, o, k, lst
    return best_act, best_m, best_k


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


@njit(**COMPILED_ONCE)
def boundary(st, tb, p, x, c, m, ld, n, now):
    """``(act, model, k)`` for running batch ``c`` (model ``m``, ``n`` active) at the
    boundary before layer ``ld``: a catch-up, another model's job, or continue."""
    mb = int(p[P.max_batch])
    q = qlen(st, m)
    if _may_refill(tb, p, m, q, n, ld - 1):
        k = refill_size(st, tb, p, c, m, ld, n, q, min(q, mb - n), now)
        if k > 0:
            return ACT_CATCHUP, m, k
    if tb.lt.shape[1] > 1:
        act, o, k = preemption(st, tb, p, x, c, m, ld, n, mb, now)
        if act >= 0:
            return act, o, k
    return ACT_CONTINUE, -1, 0


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    c = st.xi[XI_CTX, x]
    if c < 0:
        return idle_choice(st, tb, p, x, int(p[P.max_batch]), now)
    act, m, k = boundary(st, tb, p, x, c, st.ci[CI_MODEL, c], st.ci[CI_LAYER, c], st.ci[CI_N, c], now)
    return act, m, k, 0.0


@njit(cache=True, inline="always", _nrt=False)
def continues_at(st, tb, p, x, c, m, layer, n):
    """Exactly when ``decide`` continues: the kernel then runs the layer without asking
    (a boundary costs the prediction, not a trip through the event loop)."""
    return boundary(st, tb, p, x, c, m, layer, n, st.fv[FV_NOW])[0] == ACT_CONTINUE


POLICY = Policy(
    "fluid",
    "Fluid Batching: exit-aware preemptive refill; batch sizes from the latency table, "
    "queued samples catch up to the paused batch when the expected latency falls, other "
    "models preempt when they would miss their deadline; no on-time member becomes late",
    PARAMS, decide,
    continues_at=continues_at, reconstruction=True)
