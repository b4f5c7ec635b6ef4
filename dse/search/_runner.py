"""Create/resume a study and run workers until it holds ``n_trials`` complete trials.

Counting is coordinated through the storage, so any number of workers (local processes or
``dse worker`` on other machines) together reach exactly ``n_trials`` COMPLETE trials:
a worker starts a trial only while (complete + running) < n_trials, and a trial that
starts in a race runs only if (complete + running trials with a smaller number) <
n_trials (see :meth:`Objective._claim`).  Resume is the default: ``n_trials`` is the
total the study should reach, not the number to add.

This is the library side: one worker loop in this process, stopped by an event.  Worker
processes, signals, progress bars and the report after a run belong to the app layer
(``dse.cli``).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from dse.common import InputError, RunError, check_memory, did_you_mean
from dse.search._front import front_summary
from dse.search._objective import InvalidDesign, Objective, Surplus
from dse.search._samplers import make_sampler
from dse.search._storage import open_storage, reap_stale_trials, redact_url, storage_failure

REAP_INTERVAL_S = 1.0  # a worker looks for stale trials at most this often (seconds)
#: Memory per stored trial in every client process (bytes): ~6-8 KiB measured by the
#: soak benchmark (docs/robustness.md), rounded up.
TRIAL_BYTES = 8 * 1024
#: A worker stops after this many consecutive trials of invalid designs (a space that is
#: almost all invalid; with 90% invalid points a false stop has odds ~1e-9 per trial).
MAX_INVALID_STREAK = 200


def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", module="optuna")


# --------------------------------------------------------------------------- studies
def open_study(spec, storage_url: str | None = None, *, create: bool = True,
               worker: int = 0) -> optuna.Study:
    """Create the spec's study or load it (after checking it is the same study).

    Refuses (InputError) a stored study with other objectives or a different spec hash;
    nothing stored is modified in that case.
    """
    _quiet_optuna()
    url = storage_url or spec.storage_url
    safe = redact_url(url)
    storage = open_storage(url, create=create)
    try:
        names = optuna.get_all_study_names(storage)
    except Exception as exc:
        raise storage_failure(exc, url) from None
    sampler = make_sampler(spec, worker)
    if spec.name in names:
        return _load_study(spec, storage, sampler, safe)
    if not create:
        raise InputError(f"no study named '{spec.name}' in {safe}"
                         f"{did_you_mean(spec.name, names)}", source=spec.source,
                         field="study.name", allowed=names or "(none stored)")
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, sampler=sampler,
                                    directions=spec.directions)
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it just now
        return _load_study(spec, storage, sampler, safe)
    _describe(spec, study)
    return study


def _load_study(spec, storage, sampler, safe: str) -> optuna.Study:
    study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)
    _check_same_study(spec, study, safe)
    if "spec_hash" not in study.user_attrs:  # its creator was killed before describing it
        _describe(spec, study)
    return study


def _describe(spec, study: optuna.Study) -> None:
    """Store the spec and its facts with a new study; ``spec_hash`` last, so a study that
    has it is fully described (a run killed halfway is completed by the next one)."""
    from dse import __version__

    study.set_metric_names(spec.metric_names)
    # the spec as written, but never a storage password (anyone reading the study sees it)
    study.set_user_attr("spec", spec.text.replace(spec.storage_url,
                                                  redact_url(spec.storage_url)))
    study.set_user_attr("seed", spec.seed)
    study.set_user_attr("dse_version", __version__)
    study.set_user_attr("objectives", [list(o) for o in spec.objectives])
    study.set_user_attr("constraints", {c.name: c.bound for c in spec.constraints})
    study.set_user_attr("requests", spec.fidelity.requests)
    study.set_user_attr("spec_hash", spec.spec_hash)


def _check_same_study(spec, study: optuna.Study, safe: str) -> None:
    dirs = [d.name.lower() for d in study.directions]
    names = study.metric_names or []
    want = [f"{d} {m}" for m, d in spec.objectives]
    have = [f"{d} {m}" for m, d in zip(names, dirs, strict=True)] if names else dirs
    if dirs != spec.directions or (names and list(names) != spec.metric_names):
        raise InputError(f"study '{spec.name}' already exists in {safe} with objectives "
                         f"[{', '.join(have)}], the spec asks for [{', '.join(want)}]; "
                         "use another study name or storage", source=spec.source,
                         field="study.objectives")
    stored = study.user_attrs.get("spec_hash")
    if stored is not None and stored != spec.spec_hash:
        raise InputError(f"study '{spec.name}' already exists in {safe} from a different "
                         f"spec (hash {stored}, this spec {spec.spec_hash}: space, scenario, "
                         "fidelity, constraints, sampler or seed changed); use another "
                         "study name or storage to keep both", source=spec.source,
                         field="study.name")


def counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state name (one pass over all trials; the worker loop uses
    an incremental :class:`~dse.search._index.TrialIndex` instead)."""
    out = {s.name: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] += 1
    return out


# --------------------------------------------------------------------------- a worker
def run_worker(spec, study: optuna.Study, *, n_trials: int | None,
               deadline: float | None = None, stop: threading.Event | None = None,
               on_trial=None, objective: Objective | None = None, guard=None) -> int:
    """Run trials in this process until the study has ``n_trials`` complete trials, the
    deadline (time.monotonic) passes, the space is exhausted (:func:`exhausted`) or
    ``stop`` is set.
    Returns the number of trials this worker completed.  A storage that fails during
    the run (server gone, disk full, database locked) is a one-line :class:`RunError`.
    ``objective``: the :class:`Objective` to run (default: a new one for ``spec``).
    ``guard()``, if given, is a context manager entered around each objective call (the
    CLI lets a second Ctrl-C abort a trial there, never inside Optuna's bookkeeping)."""
    try:
        return _run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop,
                           on_trial=on_trial, objective=objective, guard=guard)
    except _storage_errors() as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise RunError(f"the study storage failed during the run: {type(exc).__name__}: "
                       f"{msg}; complete trials are kept, run the same command again to "
                       "resume") from None


def _storage_errors() -> tuple:
    errors = [optuna.exceptions.StorageInternalError]
    try:
        import sqlalchemy.exc

        errors.append(sqlalchemy.exc.SQLAlchemyError)
    except ImportError:
        pass
    return tuple(errors)


def _run_worker(spec, study: optuna.Study, *, n_trials: int | None,
                deadline: float | None = None, stop: threading.Event | None = None,
                on_trial=None, objective: Objective | None = None, guard=None) -> int:
    _quiet_optuna()
    objective = objective or Objective(spec, n_trials=n_trials)
    stop = stop or threading.Event()
    mine = 0
    last_reap = -math.inf
    finished: list = []  # this worker's finished trial (Optuna callback)
    invalid = _InvalidStreak(objective, guard or contextlib.nullcontext)
    grid = spec.sampler == "grid"  # finite: no streak stop
    while not stop.is_set():
        idx = objective.index(study, known=finished)  # this worker's last trial: no read
        if time.monotonic() - last_reap >= REAP_INTERVAL_S:
            if reap_stale_trials(study, running=idx.running()):
                idx.refresh()
            last_reap = time.monotonic()
        c = idx.counts()
        if n_trials is not None and c["COMPLETE"] >= n_trials:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        if c["WAITING"] == 0 and exhausted(study, sum(c.values())):
            break
        if n_trials is not None and c["COMPLETE"] + c["RUNNING"] >= n_trials:
            time.sleep(0.2)  # wait for the running trials (they may prune or fail)
            continue
        finished.clear()
        study.optimize(invalid, n_trials=1, catch=(InvalidDesign, Surplus),
                       gc_after_trial=False, show_progress_bar=False,
                       callbacks=[lambda _s, t: finished.append(t)])
        if invalid.streak >= MAX_INVALID_STREAK and not grid:
            raise InputError(f"stopped after {invalid.streak} consecutive trials of invalid "
                             f"designs (last: {invalid.last}); narrow the [space.npu] ranges "
                             "to valid designs; complete trials are kept",
                             source=spec.source, field="space.npu")
        mine += any(t.state == TrialState.COMPLETE and
                    t.user_attrs.get("worker") == objective.worker for t in finished)
        if on_trial is not None:
            on_trial(study)
    return mine


def exhausted(study: optuna.Study, n_trials: int | None = None) -> bool:
    """Whether the study holds every design of its (finite) space: its sampler has no
    new design to propose (``dse.search._unique``; the grid sampler: every point run).
    ``n_trials``, the study's trial count when known, spares reading the trials while
    it is below the space's size."""
    check = getattr(study.sampler, "is_exhausted", None)
    size = getattr(study.sampler, "space_size", None)
    if check is None or (n_trials is not None and size is not None and n_trials < size):
        return False
    return bool(check(study))


class _InvalidStreak:
    """The objective (called inside ``guard()``), counting this worker's consecutive
    trials of invalid designs."""

    def __init__(self, objective, guard):
        self.objective, self.guard, self.streak, self.last = objective, guard, 0, ""

    def __call__(self, trial):
        try:
            with self.guard():
                out = self.objective(trial)
        except InvalidDesign as exc:
            self.streak, self.last = self.streak + 1, str(exc)
            raise
        except optuna.TrialPruned:
            self.streak = 0
            raise
        self.streak = 0
        return out


# --------------------------------------------------------------------------- run
@dataclass
class RunResult:
    """Where a study stands after a run: trial counts by state, the Pareto front's size
    and the normalised hypervolume (``dse.search.hypervolume``); ``exhausted`` when the
    study holds every design of its space."""

    study: optuna.Study
    storage_url: str
    counts: dict
    front_size: int
    hypervolume: float
    stopped: bool
    exhausted: bool = False
    aborted: bool = False  # a second stop signal aborted the running trials


def run_limits(spec, n_trials: int | None = None, timeout: float | None = None):
    """``(n_trials, timeout)``: the arguments, else the spec's; at least one is needed."""
    n_trials = n_trials if n_trials is not None else spec.n_trials
    timeout = timeout if timeout is not None else spec.timeout
    if n_trials is None and timeout is None:
        raise InputError("give n_trials and/or timeout", source=spec.source,
                         field="study.n_trials")
    if n_trials is not None:  # every client process holds every trial (DESIGN: O(trials))
        check_memory(n_trials * TRIAL_BYTES, f"a study of {n_trials} trials",
                     source=spec.source, field="study.n_trials")
    return n_trials, timeout


def result(spec, study: optuna.Study, storage_url: str, *, stopped: bool) -> RunResult:
    """The :class:`RunResult` of ``study`` as it is now."""
    front, hv = front_summary(study, spec.metric_names, spec.directions)
    return RunResult(study, storage_url, counts(study), len(front), hv, stopped,
                     exhausted(study))


def run(spec, *, n_trials: int | None = None, storage_url: str | None = None,
        timeout: float | None = None, stop: threading.Event | None = None,
        on_trial=None) -> RunResult:
    """Create or resume the spec's study and run it in this process until it holds
    ``n_trials`` complete trials (default: the spec's), ``timeout`` seconds pass or
    ``stop`` is set.  ``on_trial(study)`` is called after every trial."""
    url = storage_url or spec.storage_url
    n_trials, timeout = run_limits(spec, n_trials, timeout)
    study = open_study(spec, url, create=True)
    deadline = time.monotonic() + timeout if timeout is not None else None
    stop = stop or threading.Event()
    run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop,
               on_trial=on_trial)
    return result(spec, study, url, stopped=stop.is_set())
