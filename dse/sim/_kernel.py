"""The discrete-event loop (Numba).  Semantics are written down in docs/simulator.md.

One compiled entry point, :func:`drive`, serves two uses (so each policy compiles once):

* :func:`run` -- the all-Numba loop studies use: advance to the next decision, ask the
  policy (its key + float64 parameter array), apply the action, repeat.
* :func:`advance` / :func:`policy_action` / :func:`apply` -- the same steps, one at a
  time from Python (``dse.sim.Stepper``), for a future learned-scheduler environment.

Event order at equal times: arrivals first (all arrivals with the same time are enqueued
together, then every idle executor decides, lowest index first), then executor events,
lowest executor index first.  A layer step that starts at ``t`` ends at ``t + ms``.

Compilation (measured by ``benchmarks/bench_trials.py``): the event loop is plain Numba
functions, each compiled and cached on its own; those that take no policy key
(:func:`_next_event`, :func:`_end_step`, :func:`_apply`, ...) compile once for every
policy, and only :func:`drive` (and :func:`_run_ahead`, :func:`_advance`, which call the
policy's functions) is specialised per policy (its ``key`` argument, see
``dse.sim._dispatch``).  Only ``drive`` has the wrappers Python calls.  The shared
functions take the state layout (``lay``, ``_dispatch.LAYOUT``) as first argument: its
type carries a digest of ``_state.py``, whose constants they compile in, so that an
edited layout is never run with functions cached before the edit.

Speed: a call that LLVM does not inline passes every array of the state and tables (each
its data pointer, shape and strides, ~150 machine words) on the stack, so the functions
on the event loop's path and the policy's hooks are marked ``forceinline`` (LLVM's
``alwaysinline``): LLVM inlines them into ``drive`` whatever its cost model says.  Left
to that model, it kept ``fluid``'s ``continues_at`` (asked at every layer boundary) and,
once the state was packed into fewer arrays, ``_next_event`` and ``_end_step`` as
calls, and copying their arguments took most of the run time (a ``perf`` profile).
Inlining at Numba's IR level instead (``inline="always"``) re-types every copy, which
doubled ``fluid``'s compile.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from dse.sim._dispatch import LAYOUT, continues_always, continues_at, decide, on_batch_done
from dse.sim._jit import COMPILED_ONCE, MINUS_ONE, ONE, ZERO, Int64
from dse.sim._state import (
    ACT_CATCHUP,
    ACT_CONTINUE,
    ACT_RESUME,
    ACT_START,
    ACT_WAIT,
    CATCHUP,
    CF_CB,
    CF_CE,
    CF_CU,
    CF_KCB,
    CF_KCE,
    CF_KCU,
    CF_T0,
    CF_TP,
    CI_KLAST,
    CI_KLAYER,
    CI_KN,
    CI_LAYER,
    CI_MODEL,
    CI_N,
    CI_OPEN,
    FV_HORIZON,
    FV_NOW,
    FV_PAST,
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
    LT_EPS,
    LT_MS,
    LT_UPS,
    MAIN,
    Q_HEAD,
    Q_TAIL,
    RF_ARRIVAL,
    RF_BATCH_SUM,
    RF_DONE,
    RF_ENERGY,
    RF_START,
    RF_UTIL_MS,
    RI_DROPPED,
    RI_EXITL,
    RI_MODEL,
    RI_QBUF,
    XF_TEND,
    XF_WAKE,
    XI_BUSY,
    XI_CTX,
    XI_PEND,
    XI_PHASE,
)


@intrinsic
def _idx(typingctx, v):
    """``v``, known to be >= 0, to index arrays with: the compiler is told so
    (``llvm.assume``), which drops Numba's negative-index wrap-around (a compare and
    an add per access) wherever ``v`` or a sum of such values indexes an array."""
    if not isinstance(v, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        assume = builder.module.declare_intrinsic(
            "llvm.assume", fnty=ir.FunctionType(ir.VoidType(), [ir.IntType(1)]))
        builder.call(assume, [builder.icmp_signed(">=", args[0], ir.Constant(args[0].type, 0))])
        return args[0]
    return v(v), codegen


#: The phases as arguments: int64, not literals, so that one compiled function serves
#: both (LLVM still folds the constant into each inlined copy).
P_MAIN = Int64(MAIN)
P_CATCHUP = Int64(CATCHUP)


@njit(**COMPILED_ONCE)
def _start_step(lay, st, tb, x, ph):
    """Start the next layer pass of executor x's batch (phase ``ph`` MAIN) or catch-up
    sub-batch (CATCHUP) now."""
    x = _idx(x)
    c = _idx(st.xi[XI_CTX, x])
    r = CI_LAYER + 2 * ph
    st.xf[XF_TEND, x] = st.fv[FV_NOW] + tb.lt[LT_MS, _idx(st.ci[CI_MODEL, c]),
                                              _idx(st.ci[r, c]), _idx(st.ci[r + 1, c])]
    st.xi[XI_BUSY, x] = 1
    st.iv[IV_STEPS] += 1


@njit(**COMPILED_ONCE)
def _end_step(lay, st, tb, x):
    """Finish the layer step of executor x at time FV_NOW: accounting, exits, next step.
    Returns the batch context that emptied (the caller runs the policy's
    ``on_batch_done``), else -1."""
    now = st.fv[FV_NOW]
    x = _idx(x)
    st.xi[XI_BUSY, x] = 0
    c = _idx(st.xi[XI_CTX, x])
    m = _idx(st.ci[CI_MODEL, c])
    ph = _idx(st.xi[XI_PHASE, x])
    r = CI_LAYER + 2 * ph  # rows of this phase: layer r, active samples r + 1
    a = CF_CE + 3 * ph     # accumulators a, a + 1, a + 2
    mem = st.mem[ph]
    cnt = st.cnt[ph]
    acc = st.cf
    layer = _idx(st.ci[r, c])
    n = _idx(st.ci[r + 1, c])
    acc[a, c] += tb.lt[LT_EPS, m, layer, n]
    acc[a + 1, c] += tb.lt[LT_UPS, m, layer, n]
    acc[a + 2, c] += n
    if cnt[c, layer] > 0:  # members exit here: they take the accumulators so far
        done, energy, util_ms, batch_sum = (st.rf[RF_DONE], st.rf[RF_ENERGY],
                                            st.rf[RF_UTIL_MS], st.rf[RF_BATCH_SUM])
        rexitl = st.ri[RI_EXITL]
        ce, cu, cb = acc[a, c], acc[a + 1, c], acc[a + 2, c]
        j = ZERO
        while j < n:
            i = _idx(mem[c, j])
            if rexitl[i] == layer:
                done[i] = now
                energy[i] += ce
                util_ms[i] += cu
                batch_sum[i] += cb
                n -= 1
                mem[c, j] = mem[c, n]
            else:
                j += 1
        cnt[c, layer] = 0
        st.ci[r + 1, c] = n
    st.ci[r, c] = layer + 1
    if ph == MAIN:
        st.xi[XI_PEND, x] = 1
        if n == 0:
            st.ci[CI_OPEN, c] = 0
            st.xi[XI_CTX, x] = -1
            return c
        return -1
    if n == 0 or layer + 1 > st.ci[CI_KLAST, c]:
        # merge the survivors into the paused batch; their accumulators switch over
        rexitl = st.ri[RI_EXITL]
        energy, util_ms, batch_sum = st.rf[RF_ENERGY], st.rf[RF_UTIL_MS], st.rf[RF_BATCH_SUM]
        b = st.ci[CI_N, c]
        dce = acc[CF_KCE, c] - acc[CF_CE, c]
        dcu = acc[CF_KCU, c] - acc[CF_CU, c]
        dcb = acc[CF_KCB, c] - acc[CF_CB, c]
        for j in range(n):
            i = _idx(mem[c, j])
            e = _idx(rexitl[i])
            energy[i] += dce
            util_ms[i] += dcu
            batch_sum[i] += dcb
            st.mem[MAIN, c, b] = i
            st.cnt[MAIN, c, e] += 1
            cnt[c, e] = 0
            b += 1
        st.ci[CI_N, c] = b
        st.ci[CI_KN, c] = 0
        st.xi[XI_PHASE, x] = MAIN
        st.xi[XI_PEND, x] = 1
    else:
        _start_step(lay, st, tb, x, P_CATCHUP)
    return -1


@njit(**COMPILED_ONCE)
def _enqueue_until(lay, st, t):
    """Enqueue (or drop, at the queue cap) the arrivals not yet enqueued whose time is
    <= t, in arrival order; right after the last arrival, record the queue length."""
    N = st.rf.shape[1]
    a0 = _idx(st.iv[IV_NEXT_ARRIVAL])
    ai = a0
    while ai < N and st.rf[RF_ARRIVAL, ai] <= t:
        m = _idx(st.ri[RI_MODEL, ai])
        q = st.q[Q_TAIL, m] - st.q[Q_HEAD, m]
        if q >= st.iv[IV_QCAP]:
            st.ri[RI_DROPPED, ai] = 1
            st.iv[IV_DROPPED] += 1
        else:
            st.ri[RI_QBUF, _idx(st.qoff[m] + st.q[Q_TAIL, m])] = ai
            st.q[Q_TAIL, m] += 1
            if q + 1 > st.iv[IV_MAX_QLEN]:
                st.iv[IV_MAX_QLEN] = q + 1
        ai += 1
    st.iv[IV_NEXT_ARRIVAL] = ai
    if ai == N and ai > a0:
        tot = ZERO
        for m in range(st.q.shape[1]):
            tot += st.q[Q_TAIL, m] - st.q[Q_HEAD, m]
        st.iv[IV_QLEN_LAST] = tot


@njit(**COMPILED_ONCE)
def _next_event(lay, st):
    """Process arrivals and wake-ups until an executor needs a decision (returns it),
    a layer step ends (returns ``-2 - x`` for executor x, with FV_NOW at its end) or the
    run is over (-1)."""
    X = st.xi.shape[1]
    N = st.rf.shape[1]
    while True:
        for x in range(X):
            if st.xi[XI_PEND, x]:
                st.xi[XI_PEND, x] = 0
                return x
        if st.iv[IV_DONE]:
            return -1
        ai = _idx(st.iv[IV_NEXT_ARRIVAL])
        t_arr = st.rf[RF_ARRIVAL, ai] if ai < N else INF
        t_ex = INF
        xe = MINUS_ONE
        for x in range(X):
            t = st.xf[XF_TEND, x] if st.xi[XI_BUSY, x] else st.xf[XF_WAKE, x]
            if t < t_ex:
                t_ex = t
                xe = x
        t_next = t_arr if t_arr <= t_ex else t_ex
        if t_next == INF:
            st.iv[IV_DONE] = 1
            return -1
        if t_next > st.fv[FV_HORIZON]:  # stop: the unfinished requests are dropped
            for i in range(N):
                if st.ri[RI_DROPPED, i] == 0 and st.rf[RF_DONE, i] != st.rf[RF_DONE, i]:  # done is NaN
                    st.ri[RI_DROPPED, i] = 1
                    st.iv[IV_DROPPED] += 1
            st.iv[IV_DONE] = 1
            return -1
        st.fv[FV_NOW] = t_next
        if t_arr <= t_ex:
            _enqueue_until(lay, st, t_arr)
            for x in range(X):
                if st.xi[XI_CTX, x] < 0 and st.xi[XI_BUSY, x] == 0:
                    st.xi[XI_PEND, x] = 1
        elif st.xi[XI_BUSY, _idx(xe)]:
            return -2 - xe
        else:
            st.xf[XF_WAKE, xe] = INF
            st.xi[XI_PEND, xe] = 1


AHEAD_STOP = 0  # the event loop takes over
AHEAD_STEP = 1  # a step ended that _end_step must account (exits, a merge)
AHEAD_MAIN = 2  # the running batch is at a layer boundary: ask the policy
AHEAD_FLIGHT = 3  # a pass of the running batch is in flight (just started by _apply)


@njit(**COMPILED_ONCE)
def _catchup_ahead(lay, st, tb, x, defer):
    """The policy-independent part of running ahead of the event loop (see
    :func:`_run_ahead`): a catch-up pass in flight runs on to its merge, as far as no
    other event (arrival unless ``defer``, other executor, horizon) comes first.
    Nothing runs ahead while another executor waits for a decision.  Returns
    ``(AHEAD_*, t_block)``: only a step that ends before ``t_block`` runs ahead (the
    first other event, or the first time past the horizon)."""
    x = _idx(x)
    ai = _idx(st.iv[IV_NEXT_ARRIVAL])
    t_block = st.fv[FV_PAST]
    if not defer and ai < st.rf.shape[1] and st.rf[RF_ARRIVAL, ai] < t_block:
        t_block = st.rf[RF_ARRIVAL, ai]
    for y in range(st.xi.shape[1]):
        if y != x:
            if st.xi[XI_PEND, y]:  # another executor decides now (after an arrival)
                return AHEAD_STOP, t_block
            t = st.xf[XF_TEND, y] if st.xi[XI_BUSY, y] else st.xf[XF_WAKE, y]
            if t < t_block:
                t_block = t
    if st.xi[XI_PHASE, x] == MAIN:
        if st.xi[XI_BUSY, x]:
            return AHEAD_FLIGHT, t_block
        if st.xi[XI_PEND, x] and st.xi[XI_CTX, x] >= 0:
            return AHEAD_MAIN, t_block
        return AHEAD_STOP, t_block
    if not st.xi[XI_BUSY, x]:
        return AHEAD_STOP, t_block
    # a catch-up pass is in flight: no decisions until the merge
    now = st.xf[XF_TEND, x]
    if not now < t_block:
        return AHEAD_STOP, t_block
    c = _idx(st.xi[XI_CTX, x])
    m = _idx(st.ci[CI_MODEL, c])
    n = _idx(st.ci[CI_KN, c])
    layer = _idx(st.ci[CI_KLAYER, c])
    last = st.ci[CI_KLAST, c]
    ce = st.cf[CF_KCE, c]
    cu = st.cf[CF_KCU, c]
    cb = st.cf[CF_KCB, c]
    steps = ZERO
    in_flight = False
    t_new = now
    while st.cnt[CATCHUP, c, layer] == 0 and layer + 1 <= last:
        ce += tb.lt[LT_EPS, m, layer, n]
        cu += tb.lt[LT_UPS, m, layer, n]
        cb += n
        layer += 1
        steps += 1
        t_new = now + tb.lt[LT_MS, m, layer, n]
        if not t_new < t_block:
            in_flight = True
            break
        now = t_new
    st.cf[CF_KCE, c] = ce
    st.cf[CF_KCU, c] = cu
    st.cf[CF_KCB, c] = cb
    st.ci[CI_KLAYER, c] = layer
    st.iv[IV_STEPS] += steps
    st.fv[FV_NOW] = now
    if in_flight:
        st.xf[XF_TEND, x] = t_new
        return AHEAD_STOP, t_block
    st.xf[XF_TEND, x] = now
    return AHEAD_STEP, t_block


@njit(**COMPILED_ONCE)
def _run_ahead(st, tb, x, key, p, defer):
    """Run the following layer steps of executor x inline while the policy would
    certainly continue and no other event (arrival unless ``defer``, other executor,
    horizon) comes first: exactly what the event loop would do, minus its bookkeeping.
    Called after :func:`_end_step` (x at a boundary or in a catch-up pass) and after
    :func:`_apply` (x in the pass it just started, or idle).  Returns True when it
    stopped at the end of a step that the generic :func:`_end_step` must account
    (exits, a merge), False when the event loop takes over.  With ``defer`` the caller
    enqueues the arrivals up to FV_NOW afterwards (see :func:`_advance`)."""
    ahead, t_block = _catchup_ahead(LAYOUT, st, tb, x, defer)
    if ahead != AHEAD_MAIN and ahead != AHEAD_FLIGHT:
        return ahead == AHEAD_STEP
    x = _idx(x)
    c = _idx(st.xi[XI_CTX, x])
    m = _idx(st.ci[CI_MODEL, c])
    n = _idx(st.ci[CI_N, c])
    first = _idx(st.ci[CI_LAYER, c])
    # tight loop over passes without exits: same additions, same order; the policy is
    # asked at each boundary, first at the current one (one call site, inlined).  The
    # rows are views from the current layer on, indexed from 0: an index the compiler
    # knows is not negative needs no wrap-around arithmetic in the loop
    lt = tb.lt[:, m, first:, n]
    exits = st.cnt[MAIN, c, first:]
    now = st.fv[FV_NOW]
    ce = st.cf[CF_CE, c]
    cu = st.cf[CF_CU, c]
    cb = st.cf[CF_CB, c]
    i0 = ZERO  # the first boundary to ask the policy at (0: the current one)
    if ahead == AHEAD_FLIGHT:  # pass `first`, started at now, ends at t_new
        t_new = st.xf[XF_TEND, x]
        if not t_new < t_block:
            return False  # it ends after another event
        if exits[0] != 0:  # _end_step accounts its exits
            st.fv[FV_NOW] = t_new
            return True
        now = t_new  # it ends first and has no exits: as _end_step would
        ce += lt[LT_EPS, 0]
        cu += lt[LT_UPS, 0]
        cb += n
        st.xi[XI_BUSY, x] = 0
        st.xi[XI_PEND, x] = 1
        st.iv[IV_STEPS] -= 1  # counted again below
        st.fv[FV_NOW] = now
        i0 = ONE
    steps = i0
    decides = False
    keep_now = not continues_always(key)  # a constant: else the store is compiled out
    for i in range(i0, exits.shape[0]):  # ends at a pass with exits (the batch's last has)
        if not continues_at(key, st, tb, p, x, c, m, first + i, n):
            if i == 0:
                return False  # nothing ran ahead: the state is untouched
            decides = True
            break
        if exits[i] != 0:
            break
        t_new = now + lt[LT_MS, i]
        if not t_new < t_block:
            break
        now = t_new
        ce += lt[LT_EPS, i]
        cu += lt[LT_UPS, i]
        cb += n
        steps += 1
        if keep_now:
            st.fv[FV_NOW] = now  # the boundary's time, as continues_at reads it
    st.cf[CF_CE, c] = ce
    st.cf[CF_CU, c] = cu
    st.cf[CF_CB, c] = cb
    st.ci[CI_LAYER, c] = first + steps
    st.fv[FV_NOW] = now
    st.iv[IV_STEPS] += steps
    if decides:  # at this boundary the policy may not continue: the event loop asks it
        st.xf[XF_TEND, x] = now
        return False
    # the policy continues here: start the next pass, as decide and _apply would
    t_new = now + lt[LT_MS, steps]
    st.xf[XF_TEND, x] = t_new
    st.iv[IV_STEPS] += 1
    st.xi[XI_PEND, x] = 0
    if t_new < t_block:  # it has exits: _end_step accounts them
        st.fv[FV_NOW] = t_new
        return True
    st.xi[XI_BUSY, x] = 1  # it ends after another event: in flight
    st.xf[XF_WAKE, x] = INF
    return False


@njit(**COMPILED_ONCE)
def _apply(lay, st, tb, x, act, m, k, w):
    """Carry out a policy action for executor x at the current time."""
    M = tb.lt.shape[1]
    now = st.fv[FV_NOW]
    x = _idx(x)
    st.xf[XF_WAKE, x] = INF
    if act == ACT_WAIT:
        st.xf[XF_WAKE, x] = w
        return
    if act == ACT_CATCHUP:
        c = _idx(st.xi[XI_CTX, x])
        m = _idx(st.ci[CI_MODEL, c])
        mem, cnt = st.mem[CATCHUP], st.cnt[CATCHUP]
        st.ci[CI_KN, c] = k
        st.ci[CI_KLAYER, c] = 0
        st.ci[CI_KLAST, c] = st.ci[CI_LAYER, c] - 1
        st.cf[CF_KCE, c] = 0.0
        st.cf[CF_KCU, c] = 0.0
        st.cf[CF_KCB, c] = 0.0
        ph = P_CATCHUP
        st.iv[IV_CATCHUPS] += 1
    elif act == ACT_START or act == ACT_RESUME:
        if st.xi[XI_CTX, x] >= 0:  # pause the running batch
            st.cf[CF_TP, _idx(st.xi[XI_CTX, x])] = now
            st.iv[IV_PREEMPTIONS] += 1
        m = _idx(m)
        c = _idx(x * M + m)
        mem, cnt = st.mem[MAIN], st.cnt[MAIN]
        if act == ACT_START:
            st.ci[CI_OPEN, c] = 1
            st.ci[CI_LAYER, c] = 0
            st.ci[CI_N, c] = k
            st.cf[CF_CE, c] = 0.0
            st.cf[CF_CU, c] = 0.0
            st.cf[CF_CB, c] = 0.0
            st.cf[CF_T0, c] = now
        else:
            k = 0  # a paused batch takes no new samples
        st.xi[XI_CTX, x] = c
        ph = P_MAIN
    elif act == ACT_CONTINUE:
        k = 0
        c = _idx(st.xi[XI_CTX, x])
        m = _idx(st.ci[CI_MODEL, c])
        mem, cnt = st.mem[MAIN], st.cnt[MAIN]
        ph = _idx(st.xi[XI_PHASE, x])
    else:
        return
    st.xi[XI_PHASE, x] = ph
    # move the k oldest queued requests of model m into the (sub-)batch member list;
    # their accumulators start at the (sub-)batch's 0
    head = _idx(st.qoff[m] + st.q[Q_HEAD, m])
    for j in range(k):
        i = _idx(st.ri[RI_QBUF, head + j])
        mem[c, j] = i
        cnt[c, _idx(st.ri[RI_EXITL, i])] += 1
        st.rf[RF_START, i] = now
        st.rf[RF_ENERGY, i] = 0.0
        st.rf[RF_UTIL_MS, i] = 0.0
        st.rf[RF_BATCH_SUM, i] = 0.0
    st.q[Q_HEAD, m] += k
    _start_step(lay, st, tb, x, ph)


@njit(**COMPILED_ONCE)
def _advance(st, tb, key, p, xa):
    """Process events until an executor needs a decision; return it (-1: the run is over).
    ``xa >= 0``: executor xa has just carried out an action; its steps run ahead first.

    Arrivals wait (``defer``) while the only executor runs ahead for a policy that
    always continues (:func:`dse.sim.always_continues`): until its next decision
    nothing reads the queue, and the queue's head does not move, so enqueueing them
    after the run-ahead, up to the time it reached, gives the same drops, queue
    lengths and queue order as enqueueing each at its time.

    When a step empties executor xe's batch, xe is returned at once: it is the only
    executor waiting for a decision (``_next_event`` returns a step's end only when none
    is, and ``_end_step`` and ``on_batch_done`` touch no other executor's flags), so
    ``_next_event`` would return it next."""
    defer = continues_always(key) and st.xi.shape[1] == 1
    xe = xa
    event = xa < 0          # wait for the next event
    end = xa < MINUS_ONE    # account the step of xe that ended (False: typed bool)
    while True:  # one call site each: every call is inlined, the run-ahead's loop too
        if event:
            y = _next_event(LAYOUT, st)
            if y >= -1:
                return y
            xe = -2 - y
            end = y < MINUS_ONE
        if end:
            c = _end_step(LAYOUT, st, tb, xe)
            if c >= 0:  # xe is idle and the only executor to decide now (docstring)
                on_batch_done(key, st, tb, p, c, st.fv[FV_NOW])
                st.xi[XI_PEND, xe] = 0
                return xe
        end = _run_ahead(st, tb, xe, key, p, defer)
        if defer:
            _enqueue_until(LAYOUT, st, st.fv[FV_NOW])
        event = not end


MODE_RUN = 0      # simulate to the end
MODE_ADVANCE = 1  # run events until an executor must decide; return it (-1: over)
MODE_DECIDE = 2   # write the policy's action for executor x into out[0:4]
MODE_APPLY = 3    # carry out action (act, m, k, w) for executor x


@njit(cache=True, _nrt=False, no_cfunc_wrapper=True)
def drive(st, tb, key, p, mode, x, act, m, k, w, out):
    """The one compiled entry point: the all-Numba run (``MODE_RUN``) and the single
    steps a Python caller uses to drive the same state decision by decision."""
    y = x
    a = act
    mm = m
    kk = k
    ww = w
    xa = MINUS_ONE  # the executor that has just carried out an action (MODE_RUN)
    while True:
        if mode == MODE_RUN or mode == MODE_ADVANCE:
            y = _advance(st, tb, key, p, xa)
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
        _apply(LAYOUT, st, tb, y, a, mm, kk, ww)
        if mode == MODE_APPLY:
            return y
        xa = y if a != ACT_WAIT else MINUS_ONE


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
