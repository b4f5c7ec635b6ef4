"""The discrete-event loop (Numba).  Semantics are written down in docs/simulator.md.

One compiled entry point, :func:`drive`, serves two uses (so each policy compiles once):

* :func:`run` -- the all-Numba loop studies use: advance to the next decision, ask the
  policy (its key + float64 parameter array), apply the action, repeat.
* :func:`advance` / :func:`policy_action` / :func:`apply` -- the same steps, one at a
  time from Python (``dse.sim.Stepper``), for a future learned-scheduler environment.

Event order at equal times: arrivals first (all arrivals with the same time are enqueued
together, then every idle executor decides, lowest index first), then executor events,
lowest executor index first.  A layer step that starts at ``t`` ends at ``t + ms``.

Compilation (measured by ``benchmarks/bench_trials.py``): the event loop is split into
plain Numba functions that are compiled separately and cached separately; only
:func:`_run_ahead` and :func:`_advance` are inlined at the Numba IR level, each into its
one caller in this module (Numba re-runs its front end on every inlined copy, which made
one policy's kernel take ~40 s to compile when everything was inlined; the learned
scheduler's step inlines ``_advance`` too), and only :func:`drive` has the wrappers that
let Python call it (unboxing the ~50 arrays of the state costs ~35 ms of compile time
per array and per wrapper).  The policy-independent functions (:func:`_next_event`,
:func:`_end_step`, :func:`_apply`, ...) take no policy key, so they compile once for
every policy; ``drive`` (with ``_advance`` inlined) is specialised per policy (the
``key`` argument, see ``dse.sim._dispatch``), with the policy's functions.  LLVM still inlines
small functions where it pays.  The shared functions call only functions of this module,
so Numba's per-file cache check covers them.

Speed: a call that LLVM does not inline passes every field of ``State`` and ``Tables``
(~470 machine words: each array's data pointer, shape and strides) on the stack.
``_run_ahead`` runs after most layer steps and ``_advance`` before every decision; with
a policy whose hooks are large (``fluid``) LLVM kept both calls: copying their arguments
took most of ``fluid``'s run time, hence the IR-level inlining (a ``perf`` profile;
measured by ``benchmarks/bench_sim.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dse.sim._dispatch import continues_at, decide, on_batch_done
from dse.sim._state import (
    ACT_CATCHUP,
    ACT_CONTINUE,
    ACT_RESUME,
    ACT_START,
    ACT_WAIT,
    FV_HORIZON,
    FV_NOW,
    INF,
    IV_CATCHUPS,
    IV_DONE,
    IV_DROPPED,
    IV_MAX_QLEN,
    IV_NEXT_ARRIVAL,
    IV_PREEMPTIONS,
    IV_QCAP,
    IV_QLEN_LAST,
    IV_STEPS,
)

#: Options of every kernel function but ``drive``: compiled and cached on its own, and
#: callable only from compiled code (no Python or C wrapper to generate).
INNER = {"cache": True, "_nrt": False, "no_cpython_wrapper": True,
         "no_cfunc_wrapper": True}


@njit(**INNER)
def _start_step(st, tb, x):
    c = st.x_ctx[x]
    m = st.c_model[c]
    if st.x_phase[x] == 0:
        d = tb.ms[m, st.c_layer[c], st.c_n[c]]
    else:
        d = tb.ms[m, st.k_layer[c], st.k_n[c]]
    st.x_tend[x] = st.fv[FV_NOW] + d
    st.x_busy[x] = 1
    st.iv[IV_STEPS] += 1


@njit(**INNER)
def _end_step(st, tb, x):
    """Finish the layer step of executor x at time FV_NOW: accounting, exits, next step.
    Returns the batch context that emptied (the caller runs the policy's
    ``on_batch_done``), else -1."""
    now = st.fv[FV_NOW]
    done, energy, util_ms, batch_sum, rexitl = (st.done, st.energy, st.util_ms,
                                                st.batch_sum, st.rexitl)
    c_mem, c_cnt, c_ce, c_cu, c_cb = st.c_mem, st.c_cnt, st.c_ce, st.c_cu, st.c_cb
    st.x_busy[x] = 0
    c = st.x_ctx[x]
    m = st.c_model[c]
    if st.x_phase[x] == 0:
        layer = st.c_layer[c]
        n = st.c_n[c]
        c_ce[c] += tb.e_ps[m, layer, n]
        c_cu[c] += tb.u_ps[m, layer, n]
        c_cb[c] += n
        if c_cnt[c, layer] > 0:
            ce, cu, cb = c_ce[c], c_cu[c], c_cb[c]
            j = 0
            while j < n:
                i = c_mem[c, j]
                if rexitl[i] == layer:
                    done[i] = now
                    energy[i] += ce
                    util_ms[i] += cu
                    batch_sum[i] += cb
                    n -= 1
                    c_mem[c, j] = c_mem[c, n]
                else:
                    j += 1
            c_cnt[c, layer] = 0
            st.c_n[c] = n
        st.c_layer[c] = layer + 1
        st.x_pend[x] = 1
        if n == 0:
            st.c_open[c] = 0
            st.x_ctx[x] = -1
            return c
        return -1
    # catch-up phase
    k_mem, k_cnt, k_ce, k_cu, k_cb = st.k_mem, st.k_cnt, st.k_ce, st.k_cu, st.k_cb
    layer = st.k_layer[c]
    n = st.k_n[c]
    k_ce[c] += tb.e_ps[m, layer, n]
    k_cu[c] += tb.u_ps[m, layer, n]
    k_cb[c] += n
    if k_cnt[c, layer] > 0:
        ce, cu, cb = k_ce[c], k_cu[c], k_cb[c]
        j = 0
        while j < n:
            i = k_mem[c, j]
            if rexitl[i] == layer:
                done[i] = now
                energy[i] += ce
                util_ms[i] += cu
                batch_sum[i] += cb
                n -= 1
                k_mem[c, j] = k_mem[c, n]
            else:
                j += 1
        k_cnt[c, layer] = 0
        st.k_n[c] = n
    st.k_layer[c] = layer + 1
    if n == 0 or layer + 1 > st.k_last[c]:
        # merge the survivors into the paused batch; their accumulators switch over
        b = st.c_n[c]
        dce, dcu, dcb = k_ce[c] - c_ce[c], k_cu[c] - c_cu[c], k_cb[c] - c_cb[c]
        for j in range(n):
            i = k_mem[c, j]
            energy[i] += dce
            util_ms[i] += dcu
            batch_sum[i] += dcb
            c_mem[c, b] = i
            c_cnt[c, rexitl[i]] += 1
            k_cnt[c, rexitl[i]] = 0
            b += 1
        st.c_n[c] = b
        st.k_n[c] = 0
        st.x_phase[x] = 0
        st.x_pend[x] = 1
    else:
        _start_step(st, tb, x)
    return -1


@njit(**INNER)
def _next_event(st):
    """Process arrivals and wake-ups until an executor needs a decision (returns it),
    a layer step ends (returns ``-2 - x`` for executor x, with FV_NOW at its end) or the
    run is over (-1)."""
    X = st.x_ctx.shape[0]
    N = st.arrival.shape[0]
    while True:
        for x in range(X):
            if st.x_pend[x]:
                st.x_pend[x] = 0
                return x
        if st.iv[IV_DONE]:
            return -1
        ai = st.iv[IV_NEXT_ARRIVAL]
        t_arr = st.arrival[ai] if ai < N else INF
        t_ex = INF
        xe = -1
        for x in range(X):
            t = st.x_tend[x] if st.x_busy[x] else st.x_wake[x]
            if t < t_ex:
                t_ex = t
                xe = x
        t_next = t_arr if t_arr <= t_ex else t_ex
        if t_next == INF:
            st.iv[IV_DONE] = 1
            return -1
        if t_next > st.fv[FV_HORIZON]:  # stop: the unfinished requests are dropped
            for i in range(N):
                if st.dropped[i] == 0 and st.done[i] != st.done[i]:  # done is NaN
                    st.dropped[i] = 1
                    st.iv[IV_DROPPED] += 1
            st.iv[IV_DONE] = 1
            return -1
        st.fv[FV_NOW] = t_next
        if t_arr <= t_ex:
            while ai < N and st.arrival[ai] == t_arr:  # enqueue (or drop at the cap)
                m = st.rmodel[ai]
                q = st.qtail[m] - st.qhead[m]
                if q >= st.iv[IV_QCAP]:
                    st.dropped[ai] = 1
                    st.iv[IV_DROPPED] += 1
                else:
                    st.qbuf[st.qoff[m] + st.qtail[m]] = ai
                    st.qtail[m] += 1
                    if q + 1 > st.iv[IV_MAX_QLEN]:
                        st.iv[IV_MAX_QLEN] = q + 1
                ai += 1
            st.iv[IV_NEXT_ARRIVAL] = ai
            if ai == N:
                tot = 0
                for m in range(st.qhead.shape[0]):
                    tot += st.qtail[m] - st.qhead[m]
                st.iv[IV_QLEN_LAST] = tot
            for x in range(X):
                if st.x_ctx[x] < 0 and st.x_busy[x] == 0:
                    st.x_pend[x] = 1
        elif st.x_busy[xe]:
            return -2 - xe
        else:
            st.x_wake[xe] = INF
            st.x_pend[xe] = 1


AHEAD_STOP = 0  # the event loop takes over
AHEAD_STEP = 1  # a step ended that _end_step must account (exits, a merge)
AHEAD_MAIN = 2  # the running batch is at a layer boundary: ask the policy


@njit(**INNER)
def _catchup_ahead(st, tb, x):
    """The policy-independent part of running ahead of the event loop (see
    :func:`_run_ahead`): a catch-up pass in flight runs on to its merge, as far as no
    other event (arrival, other executor, horizon) comes first.  Returns
    ``(AHEAD_*, t_block)``, ``t_block`` the time of the first other event."""
    ai = st.iv[IV_NEXT_ARRIVAL]
    t_block = st.arrival[ai] if ai < st.arrival.shape[0] else INF
    for y in range(st.x_ctx.shape[0]):
        if y != x:
            t = st.x_tend[y] if st.x_busy[y] else st.x_wake[y]
            if t < t_block:
                t_block = t
    if not st.x_busy[x]:
        if st.x_pend[x] and st.x_ctx[x] >= 0 and st.x_phase[x] == 0:
            return AHEAD_MAIN, t_block
        return AHEAD_STOP, t_block
    # a catch-up pass is in flight: no decisions until the merge
    horizon = st.fv[FV_HORIZON]
    now = st.x_tend[x]
    if not (now < t_block and now <= horizon):
        return AHEAD_STOP, t_block
    c = st.x_ctx[x]
    m = st.c_model[c]
    n = st.k_n[c]
    layer = st.k_layer[c]
    last = st.k_last[c]
    ce = st.k_ce[c]
    cu = st.k_cu[c]
    cb = st.k_cb[c]
    steps = 0
    in_flight = False
    t_new = now
    while st.k_cnt[c, layer] == 0 and layer + 1 <= last:
        ce += tb.e_ps[m, layer, n]
        cu += tb.u_ps[m, layer, n]
        cb += n
        layer += 1
        steps += 1
        t_new = now + tb.ms[m, layer, n]
        if not (t_new < t_block and t_new <= horizon):
            in_flight = True
            break
        now = t_new
    st.k_ce[c] = ce
    st.k_cu[c] = cu
    st.k_cb[c] = cb
    st.k_layer[c] = layer
    st.iv[IV_STEPS] += steps
    st.fv[FV_NOW] = now
    if in_flight:
        st.x_tend[x] = t_new
        return AHEAD_STOP, t_block
    st.x_tend[x] = now
    return AHEAD_STEP, t_block


@njit(inline="always", **INNER)
def _run_ahead(st, tb, x, key, p):
    """Run the following layer steps of executor x inline while the policy would
    certainly continue and no other event (arrival, other executor, horizon) comes
    first: exactly what the event loop would do, minus its bookkeeping.  Returns True
    when it stopped at the end of a step that the generic :func:`_end_step` must
    account (exits, a merge), False when the event loop takes over."""
    ahead, t_block = _catchup_ahead(st, tb, x)
    if ahead != AHEAD_MAIN:
        return ahead == AHEAD_STEP
    c = st.x_ctx[x]
    m = st.c_model[c]
    n = st.c_n[c]
    layer = st.c_layer[c]
    if not continues_at(key, st, tb, p, x, c, m, layer, n):
        return False
    # tight loop over passes without exits: same additions, same order
    horizon = st.fv[FV_HORIZON]
    now = st.fv[FV_NOW]
    ce = st.c_ce[c]
    cu = st.c_cu[c]
    cb = st.c_cb[c]
    steps = 0
    blocked = False
    while st.c_cnt[c, layer] == 0:
        t_new = now + tb.ms[m, layer, n]
        if not (t_new < t_block and t_new <= horizon):
            blocked = True
            break
        now = t_new
        ce += tb.e_ps[m, layer, n]
        cu += tb.u_ps[m, layer, n]
        cb += n
        steps += 1
        layer += 1
        st.fv[FV_NOW] = now  # the boundary's time, as decide would see it
        if not continues_at(key, st, tb, p, x, c, m, layer, n):
            blocked = True
            break
    st.c_ce[c] = ce
    st.c_cu[c] = cu
    st.c_cb[c] = cb
    st.c_layer[c] = layer
    st.fv[FV_NOW] = now
    st.x_tend[x] = now
    st.iv[IV_STEPS] += steps
    if blocked:
        return False
    # the next pass has exits: the generic path accounts it
    t_new = now + tb.ms[m, layer, n]
    if not (t_new < t_block and t_new <= horizon):
        return False
    st.fv[FV_NOW] = t_new
    st.x_tend[x] = t_new
    st.iv[IV_STEPS] += 1
    st.x_pend[x] = 0
    return True


@njit(**INNER)
def _apply(st, tb, x, act, m, k, w):
    """Carry out a policy action for executor x at the current time."""
    M = tb.ms.shape[0]
    now = st.fv[FV_NOW]
    st.x_wake[x] = INF
    if act == ACT_WAIT:
        st.x_wake[x] = w
        return
    if act == ACT_CATCHUP:
        c = st.x_ctx[x]
        m = st.c_model[c]
        mem, cnt = st.k_mem, st.k_cnt
        st.k_n[c] = k
        st.k_layer[c] = 0
        st.k_last[c] = st.c_layer[c] - 1
        st.k_ce[c] = 0.0
        st.k_cu[c] = 0.0
        st.k_cb[c] = 0.0
        st.x_phase[x] = 1
        st.iv[IV_CATCHUPS] += 1
    elif act == ACT_START or act == ACT_RESUME:
        if st.x_ctx[x] >= 0:  # pause the running batch
            st.c_tp[st.x_ctx[x]] = now
            st.iv[IV_PREEMPTIONS] += 1
        c = x * M + m
        mem, cnt = st.c_mem, st.c_cnt
        if act == ACT_START:
            st.c_open[c] = 1
            st.c_layer[c] = 0
            st.c_n[c] = k
            st.c_ce[c] = 0.0
            st.c_cu[c] = 0.0
            st.c_cb[c] = 0.0
            st.c_t0[c] = now
        else:
            k = 0  # a paused batch takes no new samples
        st.x_ctx[x] = c
        st.x_phase[x] = 0
    elif act == ACT_CONTINUE:
        k = 0
        c = st.x_ctx[x]
        m = st.c_model[c]
        mem, cnt = st.c_mem, st.c_cnt
    else:
        return
    # move the k oldest queued requests of model m into the (sub-)batch member list;
    # their accumulators start at the (sub-)batch's 0
    head = st.qoff[m] + st.qhead[m]
    for j in range(k):
        i = st.qbuf[head + j]
        mem[c, j] = i
        cnt[c, st.rexitl[i]] += 1
        st.start[i] = now
        st.energy[i] = 0.0
        st.util_ms[i] = 0.0
        st.batch_sum[i] = 0.0
    st.qhead[m] += k
    _start_step(st, tb, x)


@njit(inline="always", **INNER)
def _advance(st, tb, key, p):
    """Process events until an executor needs a decision; return it (-1: the run is over)."""
    y = _next_event(st)
    while y < -1:
        xe = -2 - y
        while True:  # the step that ended, then the steps run ahead of the loop
            c = _end_step(st, tb, xe)
            if c >= 0:
                on_batch_done(key, st, tb, p, c, st.fv[FV_NOW])
            if not _run_ahead(st, tb, xe, key, p):
                break
        y = _next_event(st)
    return y


MODE_RUN = 0      # simulate to the end
MODE_ADVANCE = 1  # run events until an executor must decide; return it (-1: over)
MODE_DECIDE = 2   # write the policy's action for executor x into out[0:4]
MODE_APPLY = 3    # carry out action (act, m, k, w) for executor x


@njit(cache=True, _nrt=False)
def drive(st, tb, key, p, mode, x, act, m, k, w, out):
    """The one compiled entry point: the all-Numba run (``MODE_RUN``) and the single
    steps a Python caller uses to drive the same state decision by decision."""
    y = x
    a = act
    mm = m
    kk = k
    ww = w
    while True:
        if mode == MODE_RUN or mode == MODE_ADVANCE:
            y = _advance(st, tb, key, p)
            if y < 0 or mode == MODE_ADVANCE:
                return y
        if mode == MODE_RUN or mode == MODE_DECIDE:
            a, mm, kk, ww = decide(key, st, tb, p, y)
            if mode == MODE_DECIDE:
                out[0] = a
                out[1] = mm
                out[2] = kk
                out[3] = ww
                return y
        _apply(st, tb, y, a, mm, kk, ww)
        if mode == MODE_APPLY:
            return y


_NO_OUT = np.zeros(4)


def run(st, tb, key, p) -> None:
    """Simulate to the end with the policy of ``key`` and parameters ``p`` (all in Numba)."""
    drive(st, tb, key, p, MODE_RUN, -1, 0, -1, 0, 0.0, _NO_OUT)


def advance(st, tb, key, p) -> int:
    """Process events until an executor needs a decision; return it (-1: run is over)."""
    return int(drive(st, tb, key, p, MODE_ADVANCE, -1, 0, -1, 0, 0.0, _NO_OUT))


def policy_action(st, tb, key, p, x) -> tuple[int, int, int, float]:
    """What the policy would do for executor ``x`` now: ``(act, model, k, wake_ms)``."""
    out = np.zeros(4)
    drive(st, tb, key, p, MODE_DECIDE, int(x), 0, -1, 0, 0.0, out)
    return int(out[0]), int(out[1]), int(out[2]), float(out[3])


def apply(st, tb, key, p, x, act, m, k, w) -> None:
    """Carry out a policy action for executor x at the current time."""
    drive(st, tb, key, p, MODE_APPLY, int(x), int(act), int(m), int(k), float(w), _NO_OUT)
