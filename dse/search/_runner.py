"""Create/resume a study and run workers until it holds ``n_trials`` complete trials.

Counting is coordinated through the storage, so any number of workers (local processes or
``dse worker`` on other machines) together reach exactly ``n_trials`` COMPLETE trials:
a worker starts a trial only while (complete + running) < n_trials, and a trial that
starts in a race runs only if (complete + running trials with a smaller number) <
n_trials (see :meth:`Objective._claim`).  Resume is the default: ``n_trials`` is the
total the study should reach, not the number to add.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from dse.common import InputError, RunError
from dse.search._front import front_summary
from dse.search._objective import InvalidDesign, Objective, Surplus
from dse.search._samplers import make_sampler
from dse.search._storage import open_storage, reap_stale_trials, redact_url
from dse.spec import StudySpec, parse_spec

_log = logging.getLogger("dse.search")

REAP_INTERVAL_S = 1.0  # a worker looks for stale trials at most this often (seconds)


def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", module="optuna")


# --------------------------------------------------------------------------- studies
def open_study(spec: StudySpec, storage_url: str | None = None, *, create: bool = True,
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
        from dse.search._storage import storage_failure

        raise storage_failure(exc, url) from None
    sampler = make_sampler(spec, worker)
    if spec.name in names:
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)
        _check_same_study(spec, study, safe)
        return study
    if not create:
        from dse.common import did_you_mean

        raise InputError(f"no study named '{spec.name}' in {safe}"
                         f"{did_you_mean(spec.name, names)}", source=spec.source,
                         field="study.name", allowed=names or "(none stored)")
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, sampler=sampler,
                                    directions=spec.directions)
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it just now
        study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)
        _check_same_study(spec, study, safe)
        return study
    from dse import __version__

    study.set_metric_names(spec.metric_names)
    # the spec as written, but never a storage password (anyone reading the study sees it)
    study.set_user_attr("spec", spec.text.replace(spec.storage_url,
                                                  redact_url(spec.storage_url)))
    study.set_user_attr("spec_hash", spec.spec_hash)
    study.set_user_attr("seed", spec.seed)
    study.set_user_attr("dse_version", __version__)
    study.set_user_attr("objectives", [list(o) for o in spec.objectives])
    study.set_user_attr("constraints", {c.name: c.bound for c in spec.constraints})
    study.set_user_attr("requests", spec.fidelity.requests)
    return study


def _check_same_study(spec: StudySpec, study: optuna.Study, safe: str) -> None:
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


# --------------------------------------------------------------------------- stopping
class _Stop:
    """First signal: stop after the current trial.  Second: abort it (trial -> FAIL)."""

    def __init__(self):
        self.event = threading.Event()
        self.hits = 0
        self._old = {}

    def __call__(self, signum, frame):
        self.hits += 1
        if self.hits == 1:
            self.event.set()
            print("\ndse: stopping after the current trial (Ctrl-C again to abort it)",
                  file=sys.stderr)
            return
        raise KeyboardInterrupt

    def install(self, *signums):
        if threading.current_thread() is threading.main_thread():
            for s in signums:
                self._old[s] = signal.signal(s, self)
        return self

    def restore(self):
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()


# --------------------------------------------------------------------------- a worker
def run_worker(spec: StudySpec, study: optuna.Study, *, n_trials: int | None,
               deadline: float | None = None, stop: threading.Event | None = None,
               on_trial=None) -> int:
    """Run trials in this process until the study has ``n_trials`` complete trials, the
    deadline (time.monotonic) passes, the grid is exhausted or ``stop`` is set.
    Returns the number of trials this worker completed.  A storage that fails during
    the run (server gone, disk full, database locked) is a one-line :class:`RunError`."""
    try:
        return _run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop,
                           on_trial=on_trial)
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


def _run_worker(spec: StudySpec, study: optuna.Study, *, n_trials: int | None,
                deadline: float | None = None, stop: threading.Event | None = None,
                on_trial=None) -> int:
    _quiet_optuna()
    objective = Objective(spec, n_trials=n_trials)
    stop = stop or threading.Event()
    mine = 0
    sampler = study.sampler
    last_reap = -math.inf
    finished: list = []  # this worker's finished trial (Optuna callback)
    while not stop.is_set():
        idx = objective.index(study)
        if time.monotonic() - last_reap >= REAP_INTERVAL_S:
            if reap_stale_trials(study, running=idx.running()):
                idx.refresh()
            last_reap = time.monotonic()
        c = idx.counts()
        if n_trials is not None and c["COMPLETE"] >= n_trials:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study) \
                and c["WAITING"] == 0:
            break
        if n_trials is not None and c["COMPLETE"] + c["RUNNING"] >= n_trials:
            time.sleep(0.2)  # wait for the running trials (they may prune or fail)
            continue
        finished.clear()
        study.optimize(objective, n_trials=1, catch=(InvalidDesign, Surplus),
                       gc_after_trial=False, show_progress_bar=False,
                       callbacks=[lambda _s, t: finished.append(t)])
        mine += any(t.state == TrialState.COMPLETE and
                    t.user_attrs.get("worker") == objective.worker for t in finished)
        if on_trial is not None:
            on_trial(study)
    return mine


# --------------------------------------------------------------------------- progress
class Progress:
    """tqdm bar: complete trials / n_trials, Pareto-front size and hypervolume."""

    def __init__(self, spec: StudySpec, study: optuna.Study, n_trials: int | None,
                 enabled: bool = True):
        self.spec, self.study, self.n_trials = spec, study, n_trials
        self._last = 0.0
        self._every = 0.5  # seconds between refreshes; grows with the cost of one
        self._index = None
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=n_trials, desc=spec.name, unit="trial", file=sys.stderr,
                            dynamic_ncols=True)
            self.refresh(force=True)

    def refresh(self, study=None, force: bool = False) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self._every:
            return
        if self._index is None:
            from dse.search._index import TrialIndex

            self._index = TrialIndex(self.study)
        c = self._index.refresh().counts()
        front, hv = front_summary(self.study, self.spec.metric_names, self.spec.directions)
        # the front is recomputed over all complete trials: keep that under ~5% of a core
        self._last = time.monotonic()
        self._every = max(0.5, 20.0 * (self._last - now))
        self.bar.n = c["COMPLETE"]
        self.bar.set_postfix_str(f"front={len(front)} hv={hv:.4f} pruned={c['PRUNED']} "
                                 f"failed={c['FAIL']}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.refresh(force=True)
            self.bar.close()


# --------------------------------------------------------------------------- run
@dataclass
class RunResult:
    study: optuna.Study
    storage_url: str
    counts: dict
    front_size: int
    hypervolume: float
    stopped: bool
    report_paths: list


def _child_main(text: str, source: str, base: str, storage_url: str, n_trials, deadline_s,
                worker: int) -> None:
    """Entry point of a local worker process (``dse run --workers K``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent forwards stops as SIGTERM
    stop = _Stop().install(signal.SIGTERM)
    try:
        spec = parse_spec(text, source=source, base=Path(base))
        study = open_study(spec, storage_url, create=False, worker=worker)
        deadline = time.monotonic() + deadline_s if deadline_s is not None else None
        run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop.event)
    except InputError as exc:
        print(f"dse: worker {worker}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except RunError as exc:
        print(f"dse: worker {worker}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def run(spec: StudySpec, *, n_trials: int | None = None, storage_url: str | None = None,
        workers: int = 1, timeout: float | None = None, progress: bool = True,
        report: bool = True) -> RunResult:
    """Create or resume the study and run it to ``n_trials`` complete trials.

    ``workers > 1`` starts that many local processes on the same storage (journal file or
    server database; SQLite is refused).  Ctrl-C (SIGINT) stops after the running trials.
    """
    from dse.search._storage import check_workers

    url = storage_url or spec.storage_url
    n_trials = n_trials if n_trials is not None else spec.n_trials
    timeout = timeout if timeout is not None else spec.timeout
    if n_trials is None and timeout is None:
        raise InputError("give n_trials and/or timeout", source=spec.source,
                         field="study.n_trials")
    if workers < 1:
        raise InputError(f"must be >= 1, got {workers}", field="--workers")
    check_workers(url, workers, source=spec.source)
    study = open_study(spec, url, create=True)
    deadline = time.monotonic() + timeout if timeout is not None else None
    bar = Progress(spec, study, n_trials, enabled=progress)
    stop = _Stop().install(signal.SIGINT, signal.SIGTERM)
    try:
        if workers == 1:
            run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop.event,
                       on_trial=lambda s: bar.refresh())
        else:
            _run_processes(spec, url, n_trials, timeout, workers, stop, bar)
    except KeyboardInterrupt:
        stop.event.set()
    finally:
        stop.restore()
        bar.close()
    front, hv = front_summary(study, spec.metric_names, spec.directions)
    paths = write_report(spec, study) if report else []
    return RunResult(study, url, counts(study), len(front), hv, stop.event.is_set(), paths)


def _run_processes(spec, url, n_trials, timeout, workers, stop, bar) -> None:
    ctx = multiprocessing.get_context("spawn")
    base = str(Path(spec.source).resolve().parent) if Path(spec.source).exists() else os.getcwd()
    procs = [ctx.Process(target=_child_main, daemon=False,
                         args=(spec.text, spec.source, base, url, n_trials, timeout, i))
             for i in range(workers)]
    for p in procs:
        p.start()
    sent = 0
    try:
        while any(p.is_alive() for p in procs):
            if stop.hits > sent:
                sent = stop.hits
                for p in procs:
                    if p.is_alive():
                        os.kill(p.pid, signal.SIGTERM)
            bar.refresh()
            for p in procs:
                p.join(timeout=0.1)
    finally:
        for p in procs:
            p.join()
    codes = [p.exitcode for p in procs]
    if any(c == 2 for c in codes):
        raise InputError("a worker stopped on an input error (see above)", source=spec.source)
    if any(c not in (0, 130, -signal.SIGTERM) for c in codes) and not stop.event.is_set():
        raise RunError(f"worker processes exited with codes {codes}")


def write_report(spec: StudySpec, study: optuna.Study) -> list:
    """Call ``dse.report.write_run_report(spec, study)`` when the report package has it."""
    try:
        from dse import report as rep
    except ModuleNotFoundError:
        return []
    fn = getattr(rep, "write_run_report", None)
    if fn is None:
        return []
    out = fn(spec, study)
    if out is None:
        return []
    if isinstance(out, dict):
        return [str(v) for v in out.values()]
    if isinstance(out, str | Path):
        return [str(out)]
    return [str(p) for p in out if p is not None]
