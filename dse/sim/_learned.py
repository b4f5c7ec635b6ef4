"""Dispatch-level stepping for learned schedulers (``bcedge-rl``, the Gymnasium env).

A :class:`DispatchCore` wraps a :class:`dse.sim.Stepper` of the ``bcedge`` kernel policy
(whose hooks continue every running batch at layer boundaries) and stops only where a
learned BCEdge agent decides: an idle, enabled executor with requests queued.  There it
takes the agent's choice of batch size and number of concurrent instances (rules in
docs/simulator.md, "Learned schedulers"):

* The batch serves the oldest model (as ``bcedge``):
  ``k = min(batch, queued, max_batch // n)`` with ``n`` instances, so that at most
  ``max_batch`` samples are in flight, as for every other policy (DESIGN.md fairness).
* ``n`` instances = ``n`` equal slices of the PE array (``design.sliced(n)``), one
  executor each.  The state holds ``max(instances)`` executors; with ``n`` chosen, only
  executors ``0..n-1`` run and the others wait.  A re-partition happens only when every
  executor is idle (no batch in flight); it costs no time, since the model weights are
  fetched once per batch pass anyway; otherwise the current partition stays.
* Reward of a dispatch of ``k`` samples of model ``m`` with slack ``s`` (head deadline -
  now, ms) and ``T`` the slice's full-model batch time (ms): the ``bcedge`` utility
  ``(k / T) x min(1, s / T)^latency_weight`` (just ``k / T`` when ``s <= 0``), divided by
  the model's best whole-array throughput ``max_b b / T_1(b)``, minus
  ``violation_penalty`` per request whose deadline passed since the previous decision
  without its completion (dropped or late).

Each decision is one call of the compiled :func:`_step` (the kernel's own ``_advance`` and
``_apply``, inlined by LLVM); it is called through its compiled entry point, which skips
Numba's per-call argument typing (the argument types never change during a run).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dse.common import InputError
from dse.sim import _jit
from dse.sim import _state as S  # the state's rows: S.CI_N, ...
from dse.sim._dispatch import LAYOUT
from dse.sim._kernel import _advance, _apply
from dse.sim._state import (
    ACT_CONTINUE,
    ACT_START,
    ACT_WAIT,
    FV_NOW,
    INF,
    IV_DROPPED,
    IV_NEXT_ARRIVAL,
    Tables,
    oldest_model,
    qlen,
    qpeek,
)
from dse.sim.core import DEFAULT_QUEUE_CAP, Stepper

# integer scalars (aux)
A_PART = 0     # current partition (index into the instance choices)
A_X = 1        # executor waiting for the agent's decision
A_JUDGED = 2   # requests judged so far, in deadline order
A_DONE = 3     # 1 once the run is over
A_STEPS = 4    # agent decisions taken
N_AUX = 5
# float scalars (fa)
F_REWARD = 0   # reward of the last decision
F_T_LAST = 1   # time of the previous decision (ms)
F_TPUT = 2     # recent completions per ms / reference throughput (moving average)
F_ATT = 3      # recent share of judged requests that met their deadline (moving average)
F_COMPLETED = 4  # completions at the previous decision
F_TAU = 5      # time constant of the moving averages (ms)
F_UTIL = 6     # utility summed over decisions (without penalty)
F_VIOL = 7     # violations judged so far
N_FA = 8
#: Partitions the step function holds (shorter choice lists repeat their last tables,
#: so that every run shares one compiled specialisation).
MAX_PARTS = 4


def observation_size(n_models: int, n_executors: int) -> int:
    """Length of the observation vector (see :meth:`DispatchCore.observe`)."""
    return 3 * n_models + 2 * n_executors + 3


@njit(cache=True, inline="always", _nrt=False)
def _completed(st):
    """Requests completed so far (arrived - queued - in flight - dropped)."""
    n = st.iv[IV_NEXT_ARRIVAL] - st.iv[IV_DROPPED]
    for m in range(st.q.shape[1]):
        n -= qlen(st, m)
    for c in range(st.ci.shape[1]):
        if st.ci[S.CI_OPEN, c]:
            n -= st.ci[S.CI_N, c] + st.ci[S.CI_KN, c]
    return n


@njit(cache=True, inline="always", _nrt=False)
def _judge(st, order, aux, fa, now, final):
    """Judge every request whose deadline passed (all, when ``final``); return the
    violations (dropped, or not completed by the deadline)."""
    viol = 0
    j = aux[A_JUDGED]
    N = order.shape[0]
    while j < N:
        i = order[j]
        d = st.rf[S.RF_DEADLINE, i]
        if not final and not d < now:
            break
        # done is NaN until the request completes, and NaN <= d is False
        ok = st.ri[S.RI_DROPPED, i] == 0 and st.rf[S.RF_DONE, i] <= d
        if not ok:
            viol += 1
        fa[F_ATT] = 0.99 * fa[F_ATT] + (0.01 if ok else 0.0)
        j += 1
    aux[A_JUDGED] = j
    fa[F_VIOL] += viol
    return viol


@njit(cache=True, inline="always", _nrt=False)
def choose(a0, a1, max_batch, n_parts):
    """``(batch size, partition index)`` of the continuous action ``(a0, a1)`` in
    [-1, 1]^2 (clipped): each coordinate cut into ``max_batch`` (resp. ``n_parts``) equal
    bins, lowest first; ``(-1, -1)`` for a NaN."""
    if not (a0 == a0 and a1 == a1):
        return -1, -1
    if a0 < -1.0:
        a0 = -1.0
    if a0 > 1.0:
        a0 = 1.0
    if a1 < -1.0:
        a1 = -1.0
    if a1 > 1.0:
        a1 = 1.0
    batch = 1 + min(int((a0 + 1.0) * 0.5 * max_batch), max_batch - 1)
    part = min(int((a1 + 1.0) * 0.5 * n_parts), n_parts - 1)
    return batch, part


@njit(cache=True, inline="always", _nrt=False)
def _part_tables(tbs, j):
    """The tables of partition ``j`` (views into the stacked ``tbs``)."""
    return Tables(tbs.lt[j], tbs.pt[j], tbs.alive[j], tbs.n_layers[j], tbs.mf[j])


@njit(cache=True, _nrt=False)
def _step(st, tbs, key, p, parts, aux, fa, order, exit_mean, r_ref, cfg, batch, part, a0,
          a1, obs):
    """Apply the agent's choice (``batch`` samples on ``parts[part]`` instances; ``batch
    == 0``: the choice of the continuous action ``(a0, a1)``, see :func:`choose`;
    ``batch < 0``: none, at reset) for executor ``aux[A_X]``, then run until the next
    decision or the end; write the observation into ``obs`` and the reward into
    ``fa[F_REWARD]``.  ``tbs``: every partition's tables stacked on a first axis.
    ``cfg``: ``max_batch`` (capped at the tables'), ``latency_weight``,
    ``violation_penalty``, the ``max_batch`` asked for (the action's batch bins).
    Returns 1 when over, 0 when not, -1 (and does nothing) when the run was already over,
    -2 for a NaN action."""
    M = st.q.shape[1]
    X = st.xi.shape[1]
    bmax = int(cfg[0])
    if aux[A_DONE]:
        return -1
    if batch == 0:
        batch, part = choose(a0, a1, int(cfg[3]), parts.shape[0])
        if batch < 0:
            return -2
    utility = 0.0
    x = aux[A_X]
    if batch >= 1 and part != aux[A_PART]:
        idle = True
        for y in range(X):
            if st.xi[S.XI_CTX, y] >= 0 or st.xi[S.XI_BUSY, y]:
                idle = False
        if idle:  # re-partition the idle array; executor 0 takes the dispatch
            aux[A_PART] = part
            x = 0
    tb = _part_tables(tbs, aux[A_PART])  # the partition stays until the next decision
    n_inst = parts[aux[A_PART]]
    if batch >= 1:
        now = st.fv[FV_NOW]
        m = oldest_model(st)
        k = min(batch, qlen(st, m), bmax // n_inst)
        t = tb.lt[S.LT_CUM, m, tb.n_layers[m] - 1, k]
        slack = st.rf[S.RF_DEADLINE, qpeek(st, m, 0)] - now
        u = k / t
        if slack > 0.0 and t > slack:
            u = u * (slack / t) ** cfg[1]
        utility = u / r_ref[m]
        fa[F_UTIL] += utility
        aux[A_STEPS] += 1
        _apply(LAYOUT, st, tb, x, ACT_START, m, k, 0.0)
    over = 0
    while True:
        y = _advance(st, tb, key, p, _jit.MINUS_ONE)  # no action to run ahead of
        if y < 0:
            over = 1
            break
        if st.xi[S.XI_CTX, y] >= 0:
            _apply(LAYOUT, st, tb, y, ACT_CONTINUE, -1, 0, 0.0)
        elif y >= n_inst or oldest_model(st) < 0:
            _apply(LAYOUT, st, tb, y, ACT_WAIT, -1, 0, INF)
        else:
            aux[A_X] = y
            break
    now = st.fv[FV_NOW]
    viol = _judge(st, order, aux, fa, now, over == 1)
    fa[F_REWARD] = utility - cfg[2] * viol
    aux[A_DONE] = over
    # recent throughput: completions per ms, moving average with time constant F_TAU
    done = _completed(st)
    dt = now - fa[F_T_LAST]
    if dt > 0.0:
        w = 1.0 - math.exp(-dt / fa[F_TAU])
        rate = (done - fa[F_COMPLETED]) / dt / r_ref[0]
        fa[F_TPUT] += w * (rate - fa[F_TPUT])
        fa[F_T_LAST] = now
        fa[F_COMPLETED] = done
    # observation, every entry in [-1, 1]
    o = 0
    for m in range(M):
        q = qlen(st, m)
        obs[o] = min(q / (4.0 * bmax), 1.0)
        s = 1.0
        if q > 0:
            s = (st.rf[S.RF_DEADLINE, qpeek(st, m, 0)] - now) / tb.mf[S.MF_SLO, m]
        obs[o + 1] = min(max(s, -1.0), 1.0)
        obs[o + 2] = exit_mean[m]
        o += 3
    for y in range(X):
        c = st.xi[S.XI_CTX, y]
        if y >= n_inst:
            obs[o] = -1.0
            obs[o + 1] = -1.0
        elif c >= 0:
            mm = st.ci[S.CI_MODEL, c]
            obs[o] = st.ci[S.CI_N, c] / bmax
            obs[o + 1] = min(st.ci[S.CI_LAYER, c] / tb.n_layers[mm], 1.0)
        else:
            obs[o] = 0.0
            obs[o + 1] = 0.0
        o += 2
    obs[o] = aux[A_PART] / max(parts.shape[0] - 1, 1)
    obs[o + 1] = min(fa[F_TPUT], 1.0)
    obs[o + 2] = fa[F_ATT]
    return over


class DispatchCore:
    """One simulation run stepped decision by decision by a learned scheduler.

    ``tables[j]``: the models' :class:`ModelTables` on ``design.sliced(instances[j])``
    (``instances`` ascending, starting at 1); ``start_part``: index of the partition at
    time 0; ``max_batch``, ``latency_weight``, ``violation_penalty`` as in the module
    docstring; ``exit_mean[m]``: share of model ``m``'s layers a request runs on average
    (the exit-profile summary the agent sees).  :meth:`step` takes the agent's choice and
    returns whether the run is over; :attr:`obs` is the observation (float32 in [-1, 1]),
    :attr:`reward` the last reward, :meth:`result` the run's :class:`SimResult`."""

    def __init__(self, arrival_ms, stream, model, exit, stream_slo_ms, tables, instances, *,
                 max_batch: int, latency_weight: float, violation_penalty: float,
                 exit_mean, start_part: int = 0, queue_cap: int = DEFAULT_QUEUE_CAP,
                 cache: dict | None = None):
        instances = tuple(int(n) for n in instances)
        if not instances or instances[0] != 1 or list(instances) != sorted(set(instances)):
            raise InputError(f"instance choices must start at 1 and rise, got {instances}",
                             field="instances")
        self.stepper = Stepper(arrival_ms, stream, model, exit, stream_slo_ms, tables[0],
                               "bcedge", {"instances": instances[-1], "max_batch": max_batch},
                               queue_cap=queue_cap)
        s = self.stepper
        bmax = int(s.params["max_batch"])
        if len(tables) != len(instances) or len(instances) > MAX_PARTS:
            raise InputError(f"need one table set per instance choice, at most {MAX_PARTS}",
                             field="instances")
        self.tbs = _stacked(s.tb, tables, {} if cache is None else cache)
        self.parts = np.asarray(instances, dtype=np.int64)
        self.aux = np.zeros(N_AUX, dtype=np.int64)
        self.aux[A_PART] = int(start_part)
        self.fa = np.zeros(N_FA)
        finite = s.tb.mf[S.MF_SLO, np.isfinite(s.tb.mf[S.MF_SLO])]
        self.fa[F_TAU] = float(finite.max()) if finite.size else 1.0
        self.fa[F_ATT] = 1.0
        self.order = np.argsort(s.st.rf[S.RF_DEADLINE], kind="stable").astype(np.int64)
        self.exit_mean = np.ascontiguousarray(exit_mean, dtype=np.float64)
        last = s.tb.n_layers - 1
        self.r_ref = np.array([max(b / s.tb.lt[S.LT_CUM, m, last[m], b] for b in range(1, bmax + 1))
                               for m in range(last.size)])
        self.cfg = np.array([bmax, latency_weight, violation_penalty, max_batch],
                            dtype=np.float64)
        self.max_batch = bmax
        M, X = s.tb.lt.shape[1], instances[-1]
        self.obs = np.zeros(observation_size(M, X), dtype=np.float32)
        self._state = (s.st, self.tbs, s.key, s.p, self.parts, self.aux, self.fa,
                       self.order, self.exit_mean, self.r_ref, self.cfg)
        self._fn = _entry(self._state + (-1, 0, 0.0, 0.0, self.obs))
        self._fn(*self._state, -1, 0, 0.0, 0.0, self.obs)

    def step(self, batch: int, part: int) -> bool:
        """Dispatch ``batch`` samples (capped at the queue and ``max_batch // n``) on
        ``n = instances[part]`` instances; run to the next decision.  True when over."""
        if not (1 <= batch and 0 <= part < self.parts.size):
            raise ValueError(f"need batch >= 1 and 0 <= part < {self.parts.size}")
        code = self._fn(*self._state, int(batch), int(part), 0.0, 0.0, self.obs)
        return code == 1 if code >= 0 else _refuse(code)

    def act(self, a0: float, a1: float) -> bool:
        """:meth:`step` with the choice of the continuous action ``(a0, a1)`` in [-1, 1]^2
        (mapped in the compiled step, as :func:`choose` maps it; numbers that convert to
        float).  True when over."""
        code = self._fn(*self._state, 0, 0, a0, a1, self.obs)
        return code == 1 if code >= 0 else _refuse(code)

    @property
    def done(self) -> bool:
        return bool(self.aux[A_DONE])

    @property
    def reward(self) -> float:
        return float(self.fa[F_REWARD])

    @property
    def instances(self) -> int:
        """Current number of instances (array slices)."""
        return int(self.parts[self.aux[A_PART]])

    def queue_len(self, m: int) -> int:
        st = self.stepper.st
        return int(qlen(st, m))

    def info(self) -> dict:
        return {"now_ms": self.stepper.now_ms, "instances": self.instances,
                "decisions": int(self.aux[A_STEPS]), "violations": int(self.fa[F_VIOL]),
                "utility_sum": float(self.fa[F_UTIL])}

    def result(self):
        res = self.stepper.result()
        res.executors = self.instances
        return res


def _refuse(code: int):
    raise ValueError("the run is over" if code == -1 else "the action is NaN")


def _stacked(tb, tables, cache: dict) -> Tables:
    """Every partition's tables stacked on a first axis of ``MAX_PARTS`` (the last
    partition repeated): ``tb`` (packed from ``tables[0]``) and ``tables[1:]`` packed
    alike.  ``cache`` keeps them for runs with the same ``tables`` (the caller's) and
    the same shapes and SLOs (the only part of ``tb`` that depends on the trace)."""
    from dse.sim._state import make_tables
    from dse.sim.core import _pack

    key = (tb.lt.shape, tb.mf[S.MF_SLO].tobytes())
    if key not in cache:
        tbs = [tb]
        for t in tables[1:]:
            ms, en, ut, n_layers, _, alive, pred = _pack(t, tb.lt.shape[3] - 1)
            tbs.append(make_tables(ms, en, ut, n_layers, tb.mf[S.MF_SLO], alive, pred))
        tbs += tbs[-1:] * (MAX_PARTS - len(tbs))
        cache[key] = Tables(*(np.stack(f) for f in zip(*tbs, strict=True)))
    return cache[key]


#: Compiled entry points of :func:`_step` by argument layout (see :func:`_layout`).
_ENTRIES: dict = {}


def _entry(args):
    """The compiled entry point of :func:`_step` for the types of ``args``: typed (and
    compiled or loaded from the cache) once per argument layout, then called without
    per-call typing.  Numba's ``typeof`` of the ~60 arrays takes about a millisecond, so
    each new run (an environment reset) looks the entry up by :func:`_layout` instead."""
    from numba import typeof

    layout = _layout(args)
    fn = _ENTRIES.get(layout)
    if fn is None:
        types = tuple(typeof(a) for a in args)
        if types not in _step.overloads:
            _step.compile(types)
        fn = _ENTRIES[layout] = _step.overloads[types].entry_point
    return fn


def _layout(a):
    """What Numba's type of ``a`` depends on: per array its dtype, dimensions, memory
    layout, writability and alignment; per tuple its class and items; the object itself
    for anything else but a number (functions, strings: a compiled-in constant or a
    dispatcher)."""
    if isinstance(a, np.ndarray):
        f = a.flags
        return (a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    if isinstance(a, tuple):
        return (type(a), *map(_layout, a))
    if isinstance(a, bool | int | float):
        return type(a)
    return a


_jit.materialize([globals()])  # oldest_model, qlen, qpeek: Numba dispatchers here
