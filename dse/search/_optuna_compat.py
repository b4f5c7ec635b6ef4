"""Every use of Optuna internals, in one place (checked by tests/test_optuna_compat.py).

Optuna's public API has no way to reach a study's storage and ids, a trial's id, the
heartbeat of an RDB storage, or the journal backend's lock, offsets and replay state;
these helpers do, and ``pyproject.toml`` pins Optuna to the minor versions the
compatibility test passes on.  Hypervolumes come from ``moocore`` (López-Ibáñez et al.,
public API) instead of ``optuna._hypervolume``.
"""

from __future__ import annotations

import copy
import json
import sys

import moocore
import optuna
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file
from optuna.trial import TrialState


def hypervolume(points, reference) -> float:
    """Volume dominated by ``points`` (minimisation) up to ``reference``."""
    return float(moocore.hypervolume(points, ref=reference))


def storage_of(study: optuna.Study):
    return study._storage


def study_id(study: optuna.Study) -> int:
    return study._study_id


def trial_id(trial) -> int:
    """The storage id of a ``Trial`` or ``FrozenTrial``."""
    return trial._trial_id


def heartbeat_enabled(storage) -> bool:
    return is_heartbeat_enabled(storage)


def record_heartbeat(storage, trial_id: int) -> None:
    storage.record_heartbeat(trial_id)


CONSTRAINTS_ATTR = "constraints"


def set_constraints(trial, values) -> None:
    """Store a running trial's constraint values (feasible when all <= 0) as one list in
    the trial system attr ``constraints``.

    That list is the format optuna-dashboard 0.21 shows (its trial serializer reads
    ``system_attrs["constraints"]``) and one that Optuna 5 still reads as
    ``trial.constraints`` (``{"0": v0, "1": v1, ...}``, in the spec's order) for every
    sampler, the visualisations and ``best_trials``.  ``Trial.set_constraint`` would
    write one ``constraints:<name>`` record per constraint, which optuna-dashboard
    ignores; storing both would make Optuna count each constraint twice.
    """
    values = [float(v) for v in values]
    trial.storage.set_trial_system_attr(trial._trial_id, CONSTRAINTS_ATTR, values)
    trial._cached_frozen_trial.system_attrs[CONSTRAINTS_ATTR] = values


def journal_file(storage) -> str | None:
    """The file of a journal storage (``None`` for other storages)."""
    return getattr(getattr(storage, "_backend", None), "_file_path", None)


_UNFINISHED = frozenset((TrialState.WAITING, TrialState.RUNNING))


class FastJournalBackend(JournalFileBackend):
    """Optuna's journal file backend without an fsync per record, holding fewer offsets.

    Optuna fsyncs every appended record (~20 per trial: params, attrs, state), which bounds
    a study at ~50 ms of disk flushes per trial.  Records are still appended with one
    ``write`` under the journal's lock file, so concurrent workers see a consistent log and
    a killed process loses nothing; only a power cut can drop the last records (the same
    trade-off as SQLite's ``synchronous=NORMAL``).  Decoded records are interned
    (:func:`interned`).
    """

    def read_logs(self, log_number_from):
        # Optuna remembers the byte offset of every record ever read, but reads only
        # forward from the last one: keep the offsets still ahead (~1.8 KiB per trial).
        offsets = self._log_number_offset
        if len(offsets) > 1:
            self._log_number_offset = {k: v for k, v in offsets.items()
                                       if k >= log_number_from} or offsets
        for log in super().read_logs(log_number_from):
            yield interned(log)

    def append_logs(self, logs):
        data = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with get_lock_file(self._lock):
            with open(self._file_path, "ab") as f:
                f.write(data.encode("utf-8"))


def interned(obj):
    """``obj`` (decoded JSON) with its dict keys and short strings interned.

    Every process holds every trial of a journal in memory; each record is decoded on its
    own, so without this every trial carries its own copy of each user-attr key ("metrics",
    "p99_latency_ms", ...): ~40% of the replica's memory."""
    if isinstance(obj, dict):
        return {sys.intern(k): interned(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [interned(v) for v in obj]
    if isinstance(obj, str) and len(obj) <= 64:
        return sys.intern(obj)
    return obj


class FastJournalStorage(optuna.storages.JournalStorage):
    """Optuna's JournalStorage whose WAITING/RUNNING queries cost O(new + unfinished
    trials) instead of a pass over every trial.

    Optuna's ``Study.ask`` looks for a WAITING trial before every trial by filtering all
    trials; in a 20,000-trial study that pass is the largest per-trial cost left.  This
    subclass remembers, per study, how many trials it has seen and which of them were
    unfinished (a finished trial never changes state again), so those queries only look
    at those.  Any other query, or a replay without the expected attributes (another
    Optuna version), goes to Optuna's own implementation.
    """

    def __init__(self, backend):
        super().__init__(backend)
        self._unfinished: dict[int, tuple[int, dict[int, None]]] = {}

    def get_all_trials(self, study_id, deepcopy=True, states=None):
        if states is None or not set(states) <= _UNFINISHED:
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        with self._thread_lock:
            self._sync_with_backend()
            replay = self._replay_result
            try:
                ids = replay._study_id_to_trial_ids[study_id]
                trials = replay._trials
            except (AttributeError, KeyError):
                out = None
            else:
                seen, open_ids = self._unfinished.get(study_id, (0, {}))
                for tid in ids[seen:]:
                    open_ids[tid] = None  # insertion order = trial number
                out = []
                for tid in list(open_ids):
                    t = trials[tid]
                    if t.state.is_finished():
                        del open_ids[tid]
                    elif t.state in states:
                        out.append(t)
                self._unfinished[study_id] = (len(ids), open_ids)
        if out is None:
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return copy.deepcopy(out) if deepcopy else out
