"""Run the simulator on plain arrays: a trace plus per-model latency tables.

:func:`simulate` is the all-Numba path; :class:`Stepper` advances the same state one
scheduling decision at a time from Python (the hook for a learned-scheduler environment).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dse.common import InputError
from dse.sim._predict import N_TABLES, predictions
from dse.sim._state import (
    CI_LAYER,
    CI_MODEL,
    CI_N,
    CI_OPEN,
    FV_NOW,
    IV_CATCHUPS,
    IV_DROPPED,
    IV_MAX_QLEN,
    IV_PREEMPTIONS,
    IV_QLEN_LAST,
    IV_STEPS,
    RF_ARRIVAL,
    RF_BATCH_SUM,
    RF_DONE,
    RF_ENERGY,
    RF_START,
    RF_UTIL_MS,
    RI_DROPPED,
    RI_EXITL,
    RI_MODEL,
    XI_CTX,
    make_state,
    make_tables,
    qlen,
)
from dse.sim.registry import get_policy

DEFAULT_QUEUE_CAP = 1024
"""Requests each model queue holds; an arrival to a full queue is dropped."""
HORIZON_SLO_MULTIPLE = 10.0
"""Simulated time ends at last arrival + this many times the largest SLO (ms): any request
still unfinished then has latency > 10 x its SLO and is counted as dropped."""


@dataclass(frozen=True)
class ModelTables:
    """One model's tables for the simulator: ``ms``, ``energy_uj``, ``utilisation`` shaped
    ``[layer, b]`` for ``b = 0..max_batch``, ``exit_layers`` (last layer of each exit) and
    ``exit_profile``, the share of requests expected at each exit: what exit-aware
    policies predict with (``dse.sim._predict``); ``None`` predicts no early exits."""

    ms: np.ndarray
    energy_uj: np.ndarray
    utilisation: np.ndarray
    exit_layers: tuple[int, ...]
    exit_profile: tuple[float, ...] | None = None


@dataclass
class SimResult:
    """Per-request records (ms) and run counters of one simulation."""

    arrival_ms: np.ndarray
    start_ms: np.ndarray       # first layer started (NaN if never started)
    completion_ms: np.ndarray  # exit reached (NaN if dropped)
    exit: np.ndarray
    stream: np.ndarray
    model: np.ndarray
    dropped: np.ndarray        # bool
    energy_uj: np.ndarray      # share of the batch energy of every layer pass it took part in
    util_ms: np.ndarray        # share of (pass ms x MAC utilisation) of those passes
    batch_sum: np.ndarray      # sum of the active batch size over the layers it ran
    exit_layer: np.ndarray     # layer index of the request's exit
    executors: int
    sim_seconds: float         # kernel wall time (JIT excluded)
    counters: dict             # layer steps, catch-ups, preemptions, drops, queue, cpu_seconds


def _pack(tables: list[ModelTables], max_batch: int):
    M = len(tables)
    L = max(t.ms.shape[0] for t in tables)
    B = max_batch
    ms = np.zeros((M, L, B + 1))
    en = np.zeros((M, L, B + 1))
    ut = np.zeros((M, L, B + 1))
    alive = np.zeros((M, L + 1))
    pred = np.zeros((M, N_TABLES, L + 1, B + 1))
    for m, t in enumerate(tables):
        n = t.ms.shape[0]
        if t.exit_profile is not None and len(t.exit_profile) != len(t.exit_layers):
            raise InputError(f"model {m}: {len(t.exit_profile)} exit shares for "
                             f"{len(t.exit_layers)} exits", field="exit_profile")
        ms[m, :n] = t.ms[:, :B + 1]
        en[m, :n] = t.energy_uj[:, :B + 1]
        ut[m, :n] = t.utilisation[:, :B + 1]
        alive[m, :n + 1], pred[m, :, :n + 1] = predictions(ms[m, :n], t.exit_layers,
                                                           t.exit_profile)
        pred[m, 2:, n + 1:] = pred[m, 2:, n:n + 1]  # prefix tables: constant past the end
    return ms, en, ut, np.array([t.ms.shape[0] for t in tables]), L, alive, pred


def prepare(arrival_ms, stream, model, exit, stream_slo_ms, tables: list[ModelTables],
            policy: str, params: dict | None = None, *, queue_cap: int = DEFAULT_QUEUE_CAP,
            horizon_ms: float | None = None):
    """Validate inputs and build ``(state, tables, key, pvec, policy, resolved)``."""
    pol = get_policy(policy)
    if pol.runner is not None:
        raise InputError(f"'{pol.name}' decides in Python and needs the design: run it "
                         "with dse.evaluate", field="policy")
    resolved = pol.resolve(params)
    arrival = np.ascontiguousarray(arrival_ms, dtype=np.float64)
    n = arrival.shape[0]
    if n == 0:
        raise InputError("need at least one request", field="requests")
    if np.any(np.diff(arrival) < 0) or not np.all(np.isfinite(arrival)):
        raise InputError("arrival times must be finite and sorted", field="arrival_ms")
    if queue_cap < 1:
        raise InputError("must be >= 1", field="queue_cap")
    stream = np.asarray(stream, dtype=np.int64)
    model = np.asarray(model, dtype=np.int64)
    exit_ = np.asarray(exit, dtype=np.int64)
    slo = np.asarray(stream_slo_ms, dtype=np.float64)
    tab_b = min(t.ms.shape[1] for t in tables) - 1
    if "max_batch" in resolved:
        resolved["max_batch"] = min(int(resolved["max_batch"]), tab_b)
    ms, en, ut, n_layers, L, alive, pred = _pack(tables, tab_b)
    M = len(tables)
    exl = np.full((M, max(len(t.exit_layers) for t in tables)), -1, dtype=np.int64)
    for m, t in enumerate(tables):
        exl[m, :len(t.exit_layers)] = t.exit_layers
    rexitl = exl[model, exit_]
    if np.any(rexitl < 0):
        raise InputError("a request's exit index is beyond its model's exits", field="exit")
    model_slo = np.full(M, np.inf)
    for s in range(slo.shape[0]):
        ms_ = model[stream == s]
        if ms_.size:
            model_slo[ms_[0]] = min(model_slo[ms_[0]], slo[s])
    tb = make_tables(ms, en, ut, n_layers, model_slo, alive, pred)
    if horizon_ms is None:
        finite = slo[np.isfinite(slo)]
        span = HORIZON_SLO_MULTIPLE * (finite.max() if finite.size else 1e6)
        horizon_ms = float(arrival[-1] + span)
    executors = pol.instances(resolved)
    st = make_state(arrival, arrival + slo[stream], model, rexitl, M, executors, tab_b, L,
                    queue_cap, horizon_ms)
    return st, tb, pol.key, pol.vector(resolved), pol, resolved


def _result(st, stream, exit_, executors, seconds) -> SimResult:
    return SimResult(
        arrival_ms=st.rf[RF_ARRIVAL], start_ms=st.rf[RF_START], completion_ms=st.rf[RF_DONE],
        exit=np.asarray(exit_), stream=np.asarray(stream), model=st.ri[RI_MODEL],
        dropped=st.ri[RI_DROPPED].astype(bool), energy_uj=st.rf[RF_ENERGY], util_ms=st.rf[RF_UTIL_MS],
        batch_sum=st.rf[RF_BATCH_SUM], exit_layer=st.ri[RI_EXITL], executors=executors,
        sim_seconds=seconds,
        counters={"layer_steps": int(st.iv[IV_STEPS]), "catchups": int(st.iv[IV_CATCHUPS]),
                  "preemptions": int(st.iv[IV_PREEMPTIONS]),
                  "dropped": int(st.iv[IV_DROPPED]), "max_queue": int(st.iv[IV_MAX_QLEN]),
                  "queue_at_last_arrival": int(st.iv[IV_QLEN_LAST]),
                  "end_ms": float(st.fv[FV_NOW])})


def simulate(arrival_ms, stream, model, exit, stream_slo_ms, tables: list[ModelTables],
             policy: str, params: dict | None = None, *, queue_cap: int = DEFAULT_QUEUE_CAP,
             horizon_ms: float | None = None) -> SimResult:
    """Simulate a trace (arrays of one length, sorted by arrival, ms) under ``policy``.

    ``model`` indexes ``tables``; ``exit`` indexes that model's ``exit_layers``;
    ``stream_slo_ms[stream]`` gives each request's deadline.  ``sim_seconds`` times the
    kernel alone (the first call compiles it first, outside the timing).
    """
    st, tb, key, pvec, pol, resolved = prepare(
        arrival_ms, stream, model, exit, stream_slo_ms, tables, policy, params,
        queue_cap=queue_cap, horizon_ms=horizon_ms)
    _warm(pol.name)
    from dse.sim import _kernel  # imports Numba: only when something runs

    c0, t0 = time.thread_time(), time.perf_counter()
    _kernel.run(st, tb, key, pvec)
    seconds, cpu = time.perf_counter() - t0, time.thread_time() - c0
    res = _result(st, stream, exit, pol.instances(resolved), seconds)
    res.counters["cpu_seconds"] = cpu
    return res


_WARM: set[str] = set()


def kernel_ready(policy: str) -> bool:
    """True when ``policy``'s kernel is compiled in this process or in Numba's cache
    (False: its first simulation compiles it, tens of seconds; see :func:`warm`)."""
    from dse.common import compiled_or_cached
    from dse.sim import _kernel
    from dse.sim._dispatch import PolicyKeyType

    if policy in _WARM:
        return True
    if get_policy(policy).runner is not None:
        return get_policy(policy).runner.kernel_ready()
    key = get_policy(policy).key

    def mine(sig) -> bool:
        return any(isinstance(a, PolicyKeyType) and (a.policy, a.digest) ==
                   (key.name, key.digest) for a in sig)
    return compiled_or_cached(_kernel.drive, mine)


def warm(policy: str) -> None:
    """Compile (or load from Numba's cache) ``policy``'s kernel now."""
    _warm(get_policy(policy).name)


def _warm(policy: str) -> None:
    """Compile (or load from cache) the policy's kernel on a tiny run, so that timings
    exclude JIT; each policy compiles its own kernel, once per process."""
    if policy in _WARM:
        return
    t = ModelTables(np.array([[0.0, 1.0, 1.5], [0.0, 1.0, 1.5]]), np.ones((2, 3)),
                    np.ones((2, 3)), (0, 1))
    if get_policy(policy).runner is not None:
        get_policy(policy).runner.warm(t)
        _WARM.add(policy)
        return
    st, tb, key, p, _, _ = prepare(np.array([0.0, 0.5]), [0, 0], [0, 0], [0, 1], [5.0],
                                   [t], policy)
    from dse.sim import _kernel

    _kernel.run(st, tb, key, p)
    _WARM.add(policy)


class Stepper:
    """Advance a simulation one scheduling decision at a time (for learned schedulers).

    ``next_decision()`` runs events until an executor must decide and returns its index
    (``None`` at the end); ``observe()`` reads the queue and batch state; ``act(...)``
    applies an action (``dse.sim._state.ACT_*``); ``policy_action(x)`` is what the
    registered policy would do.  The all-Numba :func:`simulate` uses the same functions.
    """

    def __init__(self, *args, **kwargs):
        self.st, self.tb, self.key, self.p, self.policy, self.params = prepare(*args, **kwargs)
        self._stream = np.asarray(args[1])
        self._exit = np.asarray(args[3])

    @property
    def now_ms(self) -> float:
        return float(self.st.fv[FV_NOW])

    def next_decision(self) -> int | None:
        from dse.sim import _kernel

        x = _kernel.advance(self.st, self.tb, self.key, self.p)
        return None if x < 0 else int(x)

    def observe(self) -> dict:
        st, M = self.st, self.tb.lt.shape[1]
        return {"now_ms": self.now_ms,
                "queue_len": [int(qlen(st, m)) for m in range(M)],
                "executor_batch": [int(c) for c in st.xi[XI_CTX]],
                "batch_layer": st.ci[CI_LAYER].copy(), "batch_active": st.ci[CI_N].copy()}

    def policy_action(self, x: int):
        from dse.sim import _kernel

        return _kernel.policy_action(self.st, self.tb, self.key, self.p, x)

    def act(self, x: int, action: int, model: int = -1, k: int = 0, wake_ms: float = 0.0):
        """Apply an action for executor ``x`` (the one ``next_decision`` returned)."""
        from dse.sim import _state as S

        st, M = self.st, self.tb.lt.shape[1]
        c = int(st.xi[XI_CTX, x])
        busy_batch = c >= 0
        if action == S.ACT_CONTINUE and not busy_batch:
            raise ValueError("continue needs a running batch")
        if action == S.ACT_CATCHUP:
            mb = self.tb.lt.shape[3] - 1
            if not busy_batch or not (1 <= k <= qlen(st, st.ci[CI_MODEL, c])) or \
                    st.ci[CI_N, c] + k > mb:
                raise ValueError("catch-up needs a running batch, 1 <= k <= queued, "
                                 "active + k <= max batch")
        if action == S.ACT_START and not (0 <= model < M and 1 <= k <= qlen(st, model)
                                          and k <= self.tb.lt.shape[3] - 1
                                          and st.ci[CI_OPEN, x * M + model] == 0):
            raise ValueError("start needs a model without an open batch and "
                             "1 <= k <= min(queued, max batch)")
        if action == S.ACT_RESUME and not (0 <= model < M and st.ci[CI_OPEN, x * M + model]
                                           and x * M + model != c):
            raise ValueError("resume needs a paused batch of that model")
        if action == S.ACT_WAIT and (busy_batch or not wake_ms > self.now_ms):
            raise ValueError("wait needs an idle executor and a wake-up time after now")
        if action not in (S.ACT_CONTINUE, S.ACT_CATCHUP, S.ACT_START, S.ACT_RESUME, S.ACT_WAIT):
            raise ValueError(f"unknown action {action}")
        from dse.sim import _kernel

        _kernel.apply(self.st, self.tb, self.key, self.p, x, action, model, k, wake_ms)

    def result(self) -> SimResult:
        return _result(self.st, self._stream, self._exit, self.policy.instances(self.params),
                       0.0)
