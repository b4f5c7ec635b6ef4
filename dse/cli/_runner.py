"""Running studies from a terminal: worker processes, signals, the progress bar.

``dse run --workers K`` starts K local processes on one journal or server storage; each
runs :func:`dse.search.run_worker` until the study holds ``n_trials`` complete trials.
The first Ctrl-C (SIGINT) or SIGTERM stops after the running trials (forwarded to the
workers as SIGTERM), a second one aborts them (their trials become FAIL and are re-run
on resume).  A worker process reports its own errors as one line and exits with the CLI's
codes (2 input error, 1 runtime failure, 130 interrupted).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

from dse.common import InputError, RunError
from dse.search import (
    TrialIndex,
    front_summary,
    open_study,
    result,
    run_limits,
    run_worker,
    storage_kind,
)
from dse.spec import parse_spec

SQLITE = "sqlite"


class StopFlag:
    """``threading.Event``'s ``set``/``is_set`` without its lock, for signal handlers.

    CPython runs a signal handler inside another one when a second signal arrives while
    the first handler runs (two Ctrl-C in a row); ``Event.set`` holds a non-reentrant
    lock, so the inner handler's ``set`` waited on the outer one forever."""

    __slots__ = ("_set",)

    def __init__(self):
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


def _say(text: str) -> None:
    """One line to stderr from a signal handler: a raw write, which (unlike ``print``
    or ``flush``, whose buffered writer refuses a reentrant call) is safe inside a nested
    handler; stderr is line-buffered, so nothing written before is held back."""
    with contextlib.suppress(OSError, ValueError):  # stderr closed: the stop still counts
        os.write(sys.stderr.fileno(), text.encode() + b"\n")


class Stop:
    """First signal: stop after the current trial.  Second: abort it (trial -> FAIL).

    The abort raises KeyboardInterrupt only while this process is inside a trial's
    objective (:meth:`guard`); anywhere else (Optuna recording a trial, the storage
    committing, the loop between trials) an exception could leave half-written
    bookkeeping or escape as a traceback, and the stop already ends the loop there.
    The handler takes no lock (:class:`StopFlag`, :func:`_say`): it may run nested."""

    def __init__(self):
        self.event = StopFlag()
        self.hits = 0
        self.in_trial = False
        self._old = {}

    def __call__(self, signum, frame):
        self.hits += 1
        hits = self.hits  # a nested handler may change self.hits meanwhile
        self.event.set()
        if hits == 1:
            _say("\ndse: stopping after the current trial (Ctrl-C again to abort it)")
            return
        if hits == 2:
            _say("dse: aborting the running trial(s); complete trials are kept")
            if self.in_trial:
                raise KeyboardInterrupt
        # a third signal while the abort unwinds: nothing more to do

    @contextlib.contextmanager
    def guard(self):
        """The objective runs inside: a second signal there aborts the trial."""
        if self.hits > 1:
            raise KeyboardInterrupt  # aborted between trials: start no other
        self.in_trial = True
        try:
            yield
        finally:
            self.in_trial = False

    def install(self, *signums):
        if threading.current_thread() is threading.main_thread():
            for s in signums:
                self._old[s] = signal.signal(s, self)
        return self

    def restore(self):
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()


class Progress:
    """tqdm bar: complete trials / n_trials, Pareto-front size and hypervolume."""

    def __init__(self, spec, study, n_trials: int | None, enabled: bool = True):
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


def check_workers(url: str, workers: int, *, source: str) -> None:
    """Refuse parallel writers on SQLite (it locks and corrupts under concurrency)."""
    if workers > 1 and storage_kind(url) == SQLITE:
        path = Path(url[len("sqlite:///"):])
        raise InputError(
            f"--workers {workers} cannot share the SQLite storage {path.name}; give "
            f"--storage journal:///{path.with_suffix('.journal').as_posix()} (one machine) "
            "or a postgresql:// URL (many machines)", source=source, field="--workers")


def run_study(spec, *, n_trials: int | None = None, storage_url: str | None = None,
              workers: int = 1, timeout: float | None = None, progress: bool = True):
    """Create or resume the study and run it to ``n_trials`` complete trials with
    ``workers`` processes (1: this one); returns :class:`dse.search.RunResult`.

    Several workers need a journal file or a server database (SQLite is refused).
    Ctrl-C (SIGINT) or SIGTERM stops after the running trials.
    """
    url = storage_url or spec.storage_url
    n_trials, timeout = run_limits(spec, n_trials, timeout)
    if workers < 1:
        raise InputError(f"must be >= 1, got {workers}", field="--workers")
    check_workers(url, workers, source=spec.source)
    study = open_study(spec, url, create=True)
    bar = Progress(spec, study, n_trials, enabled=progress)
    stop = Stop().install(signal.SIGINT, signal.SIGTERM)
    try:
        if workers == 1:
            deadline = time.monotonic() + timeout if timeout is not None else None
            run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop.event,
                       on_trial=lambda s: bar.refresh(), guard=stop.guard)
        else:
            _run_processes(spec, url, n_trials, timeout, workers, stop, bar)
    except KeyboardInterrupt:
        stop.event.set()
    finally:
        stop.restore()
        bar.close()
    res = result(spec, study, url, stopped=stop.event.is_set())
    res.aborted = stop.hits > 1
    return res


def join_study(spec, storage_url: str, *, n_trials: int | None, timeout: float | None,
               progress: bool = True):
    """``dse worker``: run trials of the (new or existing) study on a shared storage in
    this process; returns ``(trials this worker completed, or None when aborted, the
    study, whether it was stopped)``."""
    if storage_kind(storage_url) == SQLITE:
        raise InputError("a worker shares the study with other processes: give a "
                         "postgresql:// (or mysql://) URL or a journal file, not SQLite",
                         field="--storage")
    study = open_study(spec, storage_url, create=True)
    n_trials = n_trials if n_trials is not None else spec.n_trials
    timeout = timeout if timeout is not None else spec.timeout
    if n_trials is not None:
        run_limits(spec, n_trials, timeout)  # the memory check of a study this size
    deadline = time.monotonic() + timeout if timeout is not None else None
    bar = Progress(spec, study, n_trials, enabled=progress)
    stop = Stop().install(signal.SIGINT, signal.SIGTERM)
    try:
        mine = run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop.event,
                          on_trial=lambda s: bar.refresh(), guard=stop.guard)
    except KeyboardInterrupt:
        stop.event.set()
        mine = None
    finally:
        stop.restore()
        bar.close()
    return mine, study, stop.event.is_set()


def _child_main(text: str, source: str, base: str, storage_url: str, n_trials, deadline_s,
                worker: int) -> None:
    """Entry point of a local worker process (``dse run --workers K``).

    SIGINT is ignored (the parent forwards stops as SIGTERM; the process starts with it
    ignored, see ``_run_processes``).  Until the Stop
    handler is installed a SIGTERM ends the process silently (default action); after
    this function, a late one is ignored (no traceback from multiprocessing's exit)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop = Stop().install(signal.SIGTERM)
        spec = parse_spec(text, source=source, base=Path(base))
        study = open_study(spec, storage_url, create=False, worker=worker)
        deadline = time.monotonic() + deadline_s if deadline_s is not None else None
        run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop.event,
                   guard=stop.guard)
    except InputError as exc:
        print(f"dse: worker {worker}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except RunError as exc:
        print(f"dse: worker {worker}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _run_processes(spec, url, n_trials, timeout, workers, stop, bar) -> None:
    ctx = multiprocessing.get_context("spawn")
    base = str(Path(spec.source).resolve().parent) if Path(spec.source).exists() else os.getcwd()
    procs = [ctx.Process(target=_child_main, daemon=False,
                         args=(spec.text, spec.source, base, url, n_trials, timeout, i))
             for i in range(workers)]
    # Children start with SIGINT ignored (an ignored signal survives exec, and Python then
    # installs no handler): a terminal's Ctrl-C reaches the whole process group, and a
    # child still importing would otherwise die with a traceback; the parent forwards
    # stops as SIGTERM instead.  The parent blocks SIGINT meanwhile, so a Ctrl-C during
    # the start-up stays pending (a blocked signal is never discarded, even while its
    # action is "ignore") and reaches the Stop handler right after; ignoring it lost a
    # double Ctrl-C (the workers ran to the end).  multiprocessing's resource tracker
    # unblocks SIGINT when it first starts, so it is started before.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    started = []
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for p in procs:
            if stop.event.is_set():
                break
            p.start()
            started.append(p)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    procs = started
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
        if stop.hits > sent:  # a second stop arrived as KeyboardInterrupt: abort them too
            for p in procs:
                if p.is_alive():
                    os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join()
    codes = [p.exitcode for p in procs]
    if not procs:
        return
    if any(c == 2 for c in codes):
        raise InputError("a worker stopped on an input error (see above)", source=spec.source)
    if any(c not in (0, 130, -signal.SIGTERM) for c in codes) and not stop.event.is_set():
        raise RunError(f"worker processes exited with codes {codes}")
