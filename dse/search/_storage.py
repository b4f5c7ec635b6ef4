"""Optuna storages from URLs, with safe error messages and stale-trial recovery.

URLs: ``sqlite:///path.db`` (default; one writer), ``journal:///path`` or a plain path
ending in ``.journal``/``.log`` (Optuna JournalStorage on a file: many processes on one
machine), ``postgresql://user:pw@host:port/db`` or ``mysql://...`` (Optuna RDB: many
machines).  Passwords never appear in messages (:func:`redact_url`).

Killed workers leave trials RUNNING.  RDB storages (SQLite included) use Optuna heartbeats
(``HEARTBEAT_S``/``GRACE_S``) with :class:`RetryHeartbeatStaleTrialCallback`: a stale
trial is set FAIL and re-queued once as a WAITING trial with the same parameters.  The
journal backend has no heartbeat API, so every trial records ``worker = host:pid`` and a
RUNNING trial whose process no longer exists on this host (or that never recorded its
worker, GRACE_S after it started: killed in between) is failed and re-queued the same way,
under a file lock so that two workers never re-queue it twice.
"""

from __future__ import annotations

import fcntl
import os
import socket
import warnings
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from dse.common import InputError
from dse.search import _optuna_compat as compat

HEARTBEAT_S = 5
GRACE_S = 20
MAX_RETRY = 3


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password:
            host = parts.hostname or ""
            if parts.port:
                host += f":{parts.port}"
            netloc = f"{parts.username}:***@{host}"
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<storage URL>"
    return url


def journal_path(url: str) -> str | None:
    """The file of a journal URL (``journal:///p`` or a path ending .journal/.log)."""
    if url.startswith("journal:///"):
        return url[len("journal:///"):]
    if "://" not in url and url.endswith((".journal", ".log", ".jsonl")):
        return url
    return None


def sqlite_path(url: str) -> str | None:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    return None


def kind(url: str) -> str:
    """``sqlite`` | ``journal`` | ``rdb`` (server database)."""
    if sqlite_path(url) is not None:
        return "sqlite"
    if journal_path(url) is not None:
        return "journal"
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql"):
        return "rdb"
    raise InputError(f"unsupported storage URL {redact_url(url)!r}", field="study.storage",
                     allowed="sqlite:///file.db, journal:///file.journal, "
                             "postgresql://user@host/db, mysql://user@host/db")


def open_storage(url: str, *, create: bool = True) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; an RDB storage comes in Optuna's cache, as
    ``optuna.load_study`` would wrap it (:class:`_optuna_compat.FastCachedStorage`).
    A bad URL, a missing file, an unreachable server or a corrupt file is an
    :class:`InputError` (one line, without the password, exit 2: the storage the user
    gave cannot be used; nothing in it is changed).

    With ``create=False`` a missing SQLite/journal file is an error instead of a new store.
    """
    k = kind(url)
    safe = redact_url(url)
    try:
        if k == "journal":
            path = Path(journal_path(url))
            if not create and not path.exists():
                raise InputError(f"no study journal at '{path}'", source=safe,
                                 field="study.storage")
            _check_writable_dir(path, safe, create)
            return compat.FastJournalStorage(compat.FastJournalBackend(str(path)))
        if k == "sqlite":
            path = Path(sqlite_path(url))
            if not create and not path.exists():
                raise InputError(f"no study database at '{path}' (run `dse run` first)",
                                 source=safe, field="study.storage")
            _check_writable_dir(path, safe, create)
            if path.exists() and path.stat().st_size:
                with open(path, "rb") as fh:
                    if fh.read(16) != b"SQLite format 3\x00":
                        raise InputError(f"'{path}' is not a SQLite database (corrupt or "
                                         "another file); nothing was changed", source=safe,
                                         field="study.storage")
        storage = _rdb(url, k)
        if k == "sqlite":
            _fast_sqlite(storage)
        return compat.FastCachedStorage(storage)
    except InputError:
        raise
    except Exception as exc:  # unreachable server, bad credentials, corrupt file
        raise storage_failure(exc, url) from None


def storage_failure(exc: Exception, url: str) -> InputError:
    """A one-line :class:`InputError` for a storage that cannot be opened or read."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    what = "cannot open storage"
    if kind(url) == "journal":
        what = "cannot read the study journal (corrupt, or not an Optuna journal file)"
    return InputError(f"{what}: {type(exc).__name__}: {_scrub(msg, url)}",
                      source=redact_url(url), field="study.storage")


def _rdb(url: str, k: str) -> optuna.storages.RDBStorage:
    """RDBStorage with heartbeats.  Workers that start together on a new database race to
    create Optuna's tables; the loser sees a unique-key error and simply retries."""
    import time

    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    _driver_url(url), heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRY),
                    engine_kwargs={"pool_pre_ping": True} if k == "rdb" else None)
        except Exception as exc:
            if type(exc).__name__ not in ("IntegrityError", "ProgrammingError") or attempt == 5:
                raise
            time.sleep(0.3 * (attempt + 1))
    raise AssertionError("unreachable")


def _fast_sqlite(storage) -> None:
    """WAL journal + ``synchronous=NORMAL``: one fsync per checkpoint instead of several per
    commit (a study writes ~15 small transactions per trial).  A power cut can lose the
    last transactions but never corrupts the file; a killed process loses nothing."""
    from sqlalchemy import event

    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", _pragmas)
    storage.engine.dispose()


def _driver_url(url: str) -> str:
    """``postgresql://`` with the installed driver: SQLAlchemy 2.1 defaults to psycopg 3,
    while ``pip install dse[postgres]`` brings psycopg2."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and \
                importlib.util.find_spec("psycopg2") is not None:
            return f"postgresql+psycopg2://{rest}"
        return f"postgresql://{rest}"
    return url


def _scrub(text: str, url: str) -> str:
    try:
        pw = urlsplit(url).password
    except ValueError:
        pw = None
    return text.replace(pw, "***") if pw else text


def _check_writable_dir(path: Path, safe: str, create: bool) -> None:
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the directory {path.parent}: {exc.strerror}",
                             source=safe, field="study.storage") from None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_rdb_orphans(study: optuna.Study, running: list) -> int:
    """RUNNING trials that never got a heartbeat (the worker died between creating the
    trial and starting its heartbeat thread) are invisible to Optuna's stale check; they
    also never recorded ``worker`` (the objective records a heartbeat itself, then
    ``worker``, as its first steps), so they carry none or, for a re-queued trial, the one
    copied from the trial it retries.  Fail and re-queue them
    once they are older than ``GRACE_S``; the storage's row lock lets one worker win.
    ``running``: the study's RUNNING trials.  Returns how many were re-queued."""
    storage = compat.storage_of(study)
    n = 0
    for t in running:
        if t.datetime_start is None or \
                (datetime.now() - t.datetime_start).total_seconds() <= GRACE_S:
            continue
        if t.user_attrs.get("worker") is not None and not _inherited(study, t):
            continue
        try:
            if not storage.set_trial_state_values(compat.trial_id(t), TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker got there first
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(
            study, storage.get_trial(compat.trial_id(t)))
        n += 1
    return n


def _inherited(study, trial) -> bool:
    """Whether a re-queued trial's ``worker`` was copied from a failed trial it retries
    (Optuna's retry copies the user attrs and names the first trial of the chain in
    ``failed_trial``): until the process that picks it up records itself, that attr names
    a dead worker, not the trial's owner."""
    root = trial.system_attrs.get("failed_trial")
    if root is None:
        return False
    dead = {t.user_attrs.get("worker") for t in
            study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if t.number == root or t.system_attrs.get("failed_trial") == root}
    return trial.user_attrs.get("worker") in dead


@contextmanager
def _reap_lock(journal: str | None):
    """One reaper at a time per journal: an ``flock`` on ``<journal>.stale.lock``, which
    the OS releases when its holder dies (a killed worker never leaves it behind)."""
    if journal is None:
        yield
        return
    with open(f"{journal}.stale.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def reap_stale_trials(study: optuna.Study, running=None) -> int:
    """Fail and re-queue RUNNING trials whose worker is gone; returns how many.

    RDB: Optuna's heartbeat check (run only when it has a stale trial to fail), then the
    orphans among ``running`` (:func:`_reap_rdb_orphans`).  Journal: trials whose
    ``worker`` user attr names a process of this host that no longer exists, among
    ``running``.  ``running``: the study's RUNNING trials, e.g. from
    :class:`dse.search._index.TrialIndex` (default: read them all).
    """
    storage = compat.storage_of(study)
    if running is None:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if compat.heartbeat_enabled(storage):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = len(compat.stale_trial_ids(study))
            if n:
                optuna.storages.fail_stale_trials(study)
            return n + _reap_rdb_orphans(study, running)
    if not isinstance(storage, optuna.storages.JournalStorage):
        return 0
    host = socket.gethostname()
    stale = []
    for t in running:
        w = t.user_attrs.get("worker")
        if w is None and t.datetime_start is not None and (
                datetime.now() - t.datetime_start).total_seconds() > GRACE_S:
            # killed between creating the trial and recording its worker: an orphan
            # that no process owns (recording the worker is its first step)
            stale.append(t)
            continue
        if not isinstance(w, str) or ":" not in w:
            continue
        h, _, pid = w.rpartition(":")
        if h == host and pid.isdigit() and not _pid_alive(int(pid)):
            stale.append(t)
    if not stale:
        return 0
    n = 0
    with _reap_lock(compat.journal_file(storage)):
        for t in stale:
            tid = compat.trial_id(t)
            fresh = storage.get_trial(tid)
            if fresh.state != TrialState.RUNNING:
                continue  # another worker got there first
            try:
                # the re-queued copy inherits the user attrs: it must not name the dead
                # worker, or the next worker that picks it up loses it to this check
                # before it can record itself (and then crashes telling a FAIL trial)
                storage.set_trial_user_attr(tid, "worker", None)
                storage.set_trial_user_attr(tid, "stale_worker", fresh.user_attrs.get("worker"))
                storage.set_trial_state_values(tid, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # finished by another process meanwhile
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)(
                    study, storage.get_trial(tid))
            n += 1
    return n
