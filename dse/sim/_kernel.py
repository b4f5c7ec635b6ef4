"""The discrete-event loop (Numba).  Semantics are written down in docs/simulator.md.

One compiled entry point, :func:`drive`, serves two uses (so each policy compiles once):

* :func:`run` -- the all-Numba loop studies use: advance to the next decision, ask the
  policy (its key + float64 parameter array), apply the action, repeat.
* :func:`advance` / :func:`policy_action` / :func:`apply` -- the same steps, one at a
  time from Python (``dse.sim.Stepper``), for a future learned-scheduler environment.

Event order at equal times: arrivals first (all arrivals with the same time are enqueued
together, then every idle executor decides, lowest index first), then executor events,
lowest executor index first.  A layer step that starts at ``t`` ends at ``t + ms``.

``drive`` is specialised per policy: its ``key`` argument (``Policy.key``) has a Numba
type per policy, and the policy's functions are inlined (see ``dse.sim._dispatch``).
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
    qpeek,
)


@njit(cache=True, inline="always", _nrt=False)
def _enqueue(st, i):
    m = st.rmodel[i]
    q = st.qtail[m] - st.qhead[m]
    if q >= st.iv[IV_QCAP]:
        st.dropped[i] = 1
        st.iv[IV_DROPPED] += 1
        return
    st.qbuf[st.qoff[m] + st.qtail[m]] = i
    st.qtail[m] += 1
    if q + 1 > st.iv[IV_MAX_QLEN]:
        st.iv[IV_MAX_QLEN] = q + 1


@njit(cache=True, inline="always", _nrt=False)
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


@njit(cache=True, inline="always", _nrt=False)
def _end_step(st, tb, x, key, p):
    """Finish the layer step of executor x at time FV_NOW: accounting, exits, next step."""
    now = st.fv[FV_NOW]
    st.x_busy[x] = 0
    c = st.x_ctx[x]
    m = st.c_model[c]
    if st.x_phase[x] == 0:
        layer = st.c_layer[c]
        n = st.c_n[c]
        st.c_ce[c] += tb.e_ps[m, layer, n]
        st.c_cu[c] += tb.u_ps[m, layer, n]
        st.c_cb[c] += n
        if st.c_cnt[c, layer] > 0:
            j = 0
            while j < n:
                i = st.c_mem[c, j]
                if st.rexitl[i] == layer:
                    st.done[i] = now
                    st.energy[i] += st.c_ce[c]
                    st.util_ms[i] += st.c_cu[c]
                    st.batch_sum[i] += st.c_cb[c]
                    n -= 1
                    st.c_mem[c, j] = st.c_mem[c, n]
                else:
                    j += 1
            st.c_cnt[c, layer] = 0
            st.c_n[c] = n
        st.c_layer[c] = layer + 1
        if n == 0:
            st.c_open[c] = 0
            st.x_ctx[x] = -1
            on_batch_done(key, st, tb, p, c, now)
        st.x_pend[x] = 1
        return
    # catch-up phase
    layer = st.k_layer[c]
    n = st.k_n[c]
    st.k_ce[c] += tb.e_ps[m, layer, n]
    st.k_cu[c] += tb.u_ps[m, layer, n]
    st.k_cb[c] += n
    if st.k_cnt[c, layer] > 0:
        j = 0
        while j < n:
            i = st.k_mem[c, j]
            if st.rexitl[i] == layer:
                st.done[i] = now
                st.energy[i] += st.k_ce[c]
                st.util_ms[i] += st.k_cu[c]
                st.batch_sum[i] += st.k_cb[c]
                n -= 1
                st.k_mem[c, j] = st.k_mem[c, n]
            else:
                j += 1
        st.k_cnt[c, layer] = 0
        st.k_n[c] = n
    st.k_layer[c] = layer + 1
    if n == 0 or layer + 1 > st.k_last[c]:
        # merge the survivors into the paused batch; their accumulators switch over
        b = st.c_n[c]
        for j in range(n):
            i = st.k_mem[c, j]
            st.energy[i] += st.k_ce[c] - st.c_ce[c]
            st.util_ms[i] += st.k_cu[c] - st.c_cu[c]
            st.batch_sum[i] += st.k_cb[c] - st.c_cb[c]
            st.c_mem[c, b] = i
            st.c_cnt[c, st.rexitl[i]] += 1
            st.k_cnt[c, st.rexitl[i]] = 0
            b += 1
        st.c_n[c] = b
        st.k_n[c] = 0
        st.x_phase[x] = 0
        st.x_pend[x] = 1
    else:
        _start_step(st, tb, x)


@njit(cache=True, inline="always", _nrt=False)
def _finish_at_horizon(st):
    """Stop: every request neither completed nor dropped yet is dropped."""
    for i in range(st.arrival.shape[0]):
        if st.dropped[i] == 0 and st.done[i] != st.done[i]:  # done is NaN
            st.dropped[i] = 1
            st.iv[IV_DROPPED] += 1
    st.iv[IV_DONE] = 1


@njit(cache=True, inline="always", _nrt=False)
def _run_ahead(st, tb, x, key, p, t_arr):
    """Run the following layer steps of executor x inline while the policy would
    certainly continue and no other event (arrival ``t_arr``, other executor, horizon)
    comes first: exactly what the event loop would do, minus its bookkeeping."""
    t_block = t_arr
    for y in range(st.x_ctx.shape[0]):
        if y != x:
            t = st.x_tend[y] if st.x_busy[y] else st.x_wake[y]
            if t < t_block:
                t_block = t
    horizon = st.fv[FV_HORIZON]
    while True:
        if st.x_busy[x]:  # a catch-up pass is in flight: no decisions until the merge
            now = st.x_tend[x]
            if not (now < t_block and now <= horizon):
                return
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
                return
            st.x_tend[x] = now
            _end_step(st, tb, x, key, p)
        elif st.x_pend[x] and st.x_ctx[x] >= 0 and st.x_phase[x] == 0:
            c = st.x_ctx[x]
            m = st.c_model[c]
            n = st.c_n[c]
            layer = st.c_layer[c]
            if not continues_at(key, st, tb, p, x, c, m, layer, n):
                return
            # tight loop over passes without exits: same additions, same order
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
                return
            # the next pass has exits: the generic path accounts it
            t_new = now + tb.ms[m, layer, n]
            if not (t_new < t_block and t_new <= horizon):
                return
            st.fv[FV_NOW] = t_new
            st.x_tend[x] = t_new
            st.iv[IV_STEPS] += 1
            st.x_pend[x] = 0
            _end_step(st, tb, x, key, p)
        else:
            return


@njit(cache=True, inline="always", _nrt=False)
def _advance(st, tb, key, p):
    """Process events until an executor needs a decision; return it (-1: run is over)."""
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
        if t_next > st.fv[FV_HORIZON]:
            _finish_at_horizon(st)
            return -1
        st.fv[FV_NOW] = t_next
        if t_arr <= t_ex:
            while ai < N and st.arrival[ai] == t_arr:
                _enqueue(st, ai)
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
            _end_step(st, tb, xe, key, p)
            _run_ahead(st, tb, xe, key, p, t_arr)
        else:
            st.x_wake[xe] = INF
            st.x_pend[xe] = 1


@njit(cache=True, inline="always", _nrt=False)
def _pop_into(st, m, k, mem, cnt, c, base):
    """Move the k oldest queued requests of model m into a (sub-)batch member list."""
    now = st.fv[FV_NOW]
    for j in range(k):
        i = qpeek(st, m, j)
        mem[c, base + j] = i
        cnt[c, st.rexitl[i]] += 1
        st.start[i] = now
    st.qhead[m] += k


@njit(cache=True, inline="always", _nrt=False)
def _apply(st, tb, x, act, m, k, w):
    """Carry out a policy action for executor x at the current time."""
    M = tb.ms.shape[0]
    st.x_wake[x] = INF
    if act == ACT_CONTINUE:
        _start_step(st, tb, x)
    elif act == ACT_CATCHUP:
        c = st.x_ctx[x]
        _pop_into(st, st.c_model[c], k, st.k_mem, st.k_cnt, c, 0)
        for j in range(k):  # accumulators of the new samples start at the sub-batch's 0
            i = st.k_mem[c, j]
            st.energy[i] = 0.0
            st.util_ms[i] = 0.0
            st.batch_sum[i] = 0.0
        st.k_n[c] = k
        st.k_layer[c] = 0
        st.k_last[c] = st.c_layer[c] - 1
        st.k_ce[c] = 0.0
        st.k_cu[c] = 0.0
        st.k_cb[c] = 0.0
        st.x_phase[x] = 1
        st.iv[IV_CATCHUPS] += 1
        _start_step(st, tb, x)
    elif act == ACT_START or act == ACT_RESUME:
        if st.x_ctx[x] >= 0:  # pause the running batch
            st.c_tp[st.x_ctx[x]] = st.fv[FV_NOW]
            st.iv[IV_PREEMPTIONS] += 1
        c = x * M + m
        if act == ACT_START:
            _pop_into(st, m, k, st.c_mem, st.c_cnt, c, 0)
            for j in range(k):
                i = st.c_mem[c, j]
                st.energy[i] = 0.0
                st.util_ms[i] = 0.0
                st.batch_sum[i] = 0.0
            st.c_open[c] = 1
            st.c_layer[c] = 0
            st.c_n[c] = k
            st.c_ce[c] = 0.0
            st.c_cu[c] = 0.0
            st.c_cb[c] = 0.0
            st.c_t0[c] = st.fv[FV_NOW]
        st.x_ctx[x] = c
        st.x_phase[x] = 0
        _start_step(st, tb, x)
    elif act == ACT_WAIT:
        st.x_wake[x] = w


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
    while True:  # each inlined step appears once: one copy of the code to compile
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
