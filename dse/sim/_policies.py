"""Scheduling rules as small Numba functions, dispatched on an integer policy id.

Each ``_decide_*`` returns ``(act, m, k, w)`` (see ``_state.ACT_*``) for executor ``x`` at
the current time.  The parameter vector ``p`` follows the order the policy declares in
``dse.sim.policies``.  The exact rules are written down in docs/simulator.md; a policy
sees arrivals, deadlines and the latency tables, never a request's (future) exit.
"""

from __future__ import annotations

from numba import njit

from dse.sim._state import (
    ACT_CATCHUP,
    ACT_CONTINUE,
    ACT_RESUME,
    ACT_START,
    ACT_WAIT,
    FV_NOW,
    INF,
    oldest_model,
    qlen,
    qpeek,
)

PID_FCFS = 0
PID_STATIC = 1
PID_ADAPTIVE = 2
PID_LAZY = 3
PID_PREMA = 4
PID_BCEDGE = 5
PID_FLUID = 6


@njit(cache=True, inline="always", _nrt=False)
def _remaining(tb, m, layer, n):
    """Worst-case time (ms) to run layers layer..L-1 at batch n (no exits assumed)."""
    last = tb.n_layers[m] - 1
    if layer == 0:
        return tb.cum[m, last, n]
    return tb.cum[m, last, n] - tb.cum[m, layer - 1, n]


@njit(cache=True, inline="always", _nrt=False)
def _wait_forever():
    return ACT_WAIT, -1, 0, INF


@njit(cache=True, inline="always", _nrt=False)
def _start_oldest(st, mb):
    """Start the oldest model's queue with up to ``mb`` samples (wait when all are empty)."""
    m = oldest_model(st)
    if m < 0:
        return _wait_forever()
    return ACT_START, m, min(qlen(st, m), mb), 0.0


# --- fcfs ---------------------------------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _decide_fcfs(st, tb, p, x, now):
    if st.x_ctx[x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    return _start_oldest(st, 1)


# --- static (Triton / TF-Serving dynamic batching) ------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _decide_static(st, tb, p, x, now):
    if st.x_ctx[x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    mb = int(p[0])
    delay = p[1]
    M = st.qhead.shape[0]
    full = -1
    t_full = INF
    for m in range(M):  # a full batch goes first (oldest head among full queues)
        if qlen(st, m) >= mb:
            a = st.arrival[qpeek(st, m, 0)]
            if a < t_full:
                t_full = a
                full = m
    if full >= 0:
        return ACT_START, full, mb, 0.0
    m = oldest_model(st)
    if m < 0:
        return _wait_forever()
    due = st.arrival[qpeek(st, m, 0)] + delay
    if now >= due:
        return ACT_START, m, qlen(st, m), 0.0
    return ACT_WAIT, -1, 0, due


# --- adaptive (Clipper AIMD batch size) -------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _cap(st, m):
    if st.pst[m, 0] < 1.0:
        st.pst[m, 0] = 1.0
    return int(st.pst[m, 0])


@njit(cache=True, inline="always", _nrt=False)
def _decide_adaptive(st, tb, p, x, now):
    if st.x_ctx[x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    m = oldest_model(st)
    if m < 0:
        return _wait_forever()
    return ACT_START, m, min(qlen(st, m), _cap(st, m)), 0.0


@njit(cache=True, inline="always", _nrt=False)
def _adaptive_feedback(st, tb, p, c, now):
    m = st.c_model[c]
    mb = int(p[0])
    cap = _cap(st, m)
    if now - st.c_t0[c] > p[3] * tb.model_slo[m]:
        cap = max(1, int(cap * p[2]))
    else:
        cap = min(mb, cap + int(p[1]))
    st.pst[m, 0] = float(cap)


# --- catch-up admission shared by lazy and fluid ---------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _admit(st, tb, c, m, kmax, slack, exit_aware):
    """Largest k <= kmax whose catch-up keeps the protected members on time (0: none).

    With ``k`` new samples, the batch (paused after layer l) finishes at the latest at
    ``f1 = now + cum[l, k] + (cum[L-1, n+k] - cum[l, n+k])``.  ``lazy`` protects every
    member (``f1 <= min deadline - slack``); ``fluid`` protects only members that would
    still meet ``deadline - slack`` without the refill (finish ``f0``).
    """
    now = st.fv[FV_NOW]
    n = st.c_n[c]
    l_done = st.c_layer[c] - 1
    last = tb.n_layers[m] - 1
    f0 = now + (tb.cum[m, last, n] - tb.cum[m, l_done, n])
    dmin = INF
    for j in range(n):
        d = st.deadline[st.c_mem[c, j]] - slack
        if exit_aware and d < f0:
            continue
        if d < dmin:
            dmin = d
    k = kmax
    while k >= 1:
        f1 = now + tb.cum[m, l_done, k] + (tb.cum[m, last, n + k] - tb.cum[m, l_done, n + k])
        if f1 <= dmin:
            return k
        k -= 1
    return 0


# --- lazy (LazyBatching) ----------------------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _decide_lazy(st, tb, p, x, now):
    mb = int(p[0])
    c = st.x_ctx[x]
    if c < 0:
        return _start_oldest(st, mb)
    m = st.c_model[c]
    q = qlen(st, m)
    n = st.c_n[c]
    if q > 0 and n < mb:
        k = _admit(st, tb, c, m, min(q, mb - n), p[1], False)
        if k > 0:
            return ACT_CATCHUP, m, k, 0.0
    return ACT_CONTINUE, -1, 0, 0.0


# --- fluid (exit-aware preemptive refill) -------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _decide_fluid(st, tb, p, x, now):
    mb = int(p[0])
    c = st.x_ctx[x]
    if c < 0:
        return _start_oldest(st, mb)
    m = st.c_model[c]
    q = qlen(st, m)
    n = st.c_n[c]
    l_done = st.c_layer[c] - 1
    last_ok = int(p[2] * (tb.n_layers[m] - 1))
    if (q > 0 and n < mb and q >= int(p[3]) and l_done <= last_ok
            and n <= p[1] * mb):
        k = _admit(st, tb, c, m, min(q, mb - n), p[4], True)
        if k > 0:
            return ACT_CATCHUP, m, k, 0.0
    return ACT_CONTINUE, -1, 0, 0.0


# --- prema (token-based preemptive multi-DNN) -------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _decide_prema(st, tb, p, x, now):
    mb = int(p[0])
    thr = p[1]
    M = tb.ms.shape[0]
    cur = st.x_ctx[x]
    b_act = -1
    b_m = -1
    b_k = 0
    b_est = INF
    if cur >= 0:
        m = st.c_model[cur]
        b_act = ACT_CONTINUE
        b_est = _remaining(tb, m, st.c_layer[cur], st.c_n[cur])
    for m in range(M):  # paused batches
        c = x * M + m
        if st.c_open[c] and c != cur and (now - st.c_tp[c]) / tb.iso_ms[m] >= thr:
            est = _remaining(tb, m, st.c_layer[c], st.c_n[c])
            if est < b_est:
                b_act, b_m, b_k, b_est = ACT_RESUME, m, 0, est
    for m in range(M):  # new batches
        c = x * M + m
        q = qlen(st, m)
        if st.c_open[c] == 0 and q > 0:
            if (now - st.arrival[qpeek(st, m, 0)]) / tb.iso_ms[m] >= thr:
                k = min(q, mb)
                est = tb.cum[m, tb.n_layers[m] - 1, k]
                if est < b_est:
                    b_act, b_m, b_k, b_est = ACT_START, m, k, est
    if b_act >= 0:
        return b_act, b_m, b_k, 0.0
    # idle and nothing has enough tokens yet: serve the largest token (never idle w/ work)
    b_tok = -INF
    for m in range(M):
        c = x * M + m
        if st.c_open[c]:
            tok = (now - st.c_tp[c]) / tb.iso_ms[m]
            if tok > b_tok:
                b_act, b_m, b_k, b_tok = ACT_RESUME, m, 0, tok
    for m in range(M):
        c = x * M + m
        q = qlen(st, m)
        if st.c_open[c] == 0 and q > 0:
            tok = (now - st.arrival[qpeek(st, m, 0)]) / tb.iso_ms[m]
            if tok > b_tok:
                b_act, b_m, b_k, b_tok = ACT_START, m, min(q, mb), tok
    if b_act >= 0:
        return b_act, b_m, b_k, 0.0
    return _wait_forever()


# --- bcedge (utility-maximizing batch size on n instances) -------------------------------

@njit(cache=True, inline="always", _nrt=False)
def _decide_bcedge(st, tb, p, x, now):
    if st.x_ctx[x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    m = oldest_model(st)
    if m < 0:
        return _wait_forever()
    mb = int(p[1])
    gamma = p[2]
    bmax = min(qlen(st, m), mb)
    slack = st.deadline[qpeek(st, m, 0)] - now
    last = tb.n_layers[m] - 1
    best_b = 1
    best_u = -INF
    for b in range(1, bmax + 1):
        t = tb.cum[m, last, b]
        u = b / t
        if slack > 0.0 and t > slack:
            u = u * (slack / t) ** gamma
        if u > best_u:
            best_u = u
            best_b = b
    return ACT_START, m, best_b, 0.0


# --- dispatch ---------------------------------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, pid, p, x):
    """The action of policy ``pid`` for executor ``x`` now."""
    now = st.fv[FV_NOW]
    if pid == PID_FCFS:
        return _decide_fcfs(st, tb, p, x, now)
    if pid == PID_STATIC:
        return _decide_static(st, tb, p, x, now)
    if pid == PID_ADAPTIVE:
        return _decide_adaptive(st, tb, p, x, now)
    if pid == PID_LAZY:
        return _decide_lazy(st, tb, p, x, now)
    if pid == PID_PREMA:
        return _decide_prema(st, tb, p, x, now)
    if pid == PID_BCEDGE:
        return _decide_bcedge(st, tb, p, x, now)
    return _decide_fluid(st, tb, p, x, now)


@njit(cache=True, inline="always", _nrt=False)
def on_batch_done(st, tb, pid, p, c, now):
    """Hook run when batch context ``c`` empties (adaptive's AIMD feedback)."""
    if pid == PID_ADAPTIVE:
        _adaptive_feedback(st, tb, p, c, now)


@njit(cache=True, inline="always", _nrt=False)
def continues_at(st, tb, pid, p, x, c, m, layer, n):
    """True when ``decide`` would certainly return ACT_CONTINUE for executor ``x`` whose
    batch ``c`` (model ``m``, ``n`` active) is at the boundary before ``layer``, whatever
    the current time: the conditions checked here depend only on queue and batch state,
    which the kernel's run-ahead keeps unchanged (it only runs ahead while no other event
    comes first)."""
    if pid == PID_FCFS or pid == PID_STATIC or pid == PID_ADAPTIVE or pid == PID_BCEDGE:
        return True
    if pid == PID_LAZY:
        return qlen(st, m) == 0 or n >= int(p[0])
    if pid == PID_FLUID:
        mb = int(p[0])
        q = qlen(st, m)
        return not (q > 0 and n < mb and q >= int(p[3])
                    and layer - 1 <= int(p[2] * (tb.n_layers[m] - 1))
                    and n <= p[1] * mb)
    # prema: nothing else could be chosen (no paused batch here, no startable queue)
    M = tb.ms.shape[0]
    for mm in range(M):
        cc = x * M + mm
        if cc != c and (st.c_open[cc] or qlen(st, mm) > 0):
            return False
    return True
