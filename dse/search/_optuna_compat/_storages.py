"""Optuna storage subclasses (part of ``dse.search._optuna_compat``: they use Optuna
internals): the journal backend and storage, and the cached RDB storage, that ``dse``
opens (``dse.search._storage.open_storage``)."""

from __future__ import annotations

import copy
import json
import sys

import optuna
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file
from optuna.trial import TrialState

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
    """Optuna's JournalStorage whose reads of a study's trials cost O(new + unfinished
    trials) instead of a pass over every trial.

    Optuna's ``Study.ask`` looks for a WAITING trial before every trial, and the samplers
    and the trial index read every trial once per trial; in a 20,000-trial study each
    such pass over every trial (in Python) is the largest per-trial cost left.  This
    subclass keeps, per study, the list of trials it has seen and which of them were
    unfinished (a finished trial never changes again), so a read only appends the new
    trials, takes the latest copy of the unfinished ones and copies the list.  Any other
    query, or a replay without the expected attributes (another Optuna version), goes to
    Optuna's own implementation.
    """

    def __init__(self, backend):
        super().__init__(backend)
        self._views: dict[int, tuple[list, dict[int, int]]] = {}

    def get_all_trials(self, study_id, deepcopy=True, states=None):
        if states is not None and not set(states) <= _UNFINISHED:
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        with self._thread_lock:
            self._sync_with_backend()
            out = self._read(study_id, states)
        if out is None:
            return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return copy.deepcopy(out) if deepcopy else out

    def _read(self, study_id, states) -> list | None:
        """The study's trials (``states``: None, or unfinished states only) from this
        process's view, brought up to date with the replay; None when the replay does
        not look as expected."""
        replay = self._replay_result
        try:
            ids = replay._study_id_to_trial_ids[study_id]
            trials = replay._trials
        except (AttributeError, KeyError):
            return None
        seen, open_at = self._views.setdefault(study_id, ([], {}))
        for tid in ids[len(seen):]:
            open_at[tid] = len(seen)  # insertion order = trial number
            seen.append(trials[tid])
        for tid, at in list(open_at.items()):
            seen[at] = t = trials[tid]
            if t.state.is_finished():
                del open_at[tid]
        if states is None:
            return list(seen)
        return [seen[at] for at in open_at.values() if seen[at].state in states]


class FastCachedStorage(_CachedStorage):
    """Optuna's cached RDB storage (what ``optuna.load_study`` wraps an ``RDBStorage``
    in) that answers the read of a trial right after this process created it from the
    creation itself.

    ``Study.ask`` creates a trial and ``Trial`` reads it back at once: a query and five
    relationship loads per trial for a trial that nothing has changed yet (the storage
    created it RUNNING, with no parameters or attributes, in the same call).  Only that
    first read is answered so, and only when no write to the trial came before it; a
    trial taken from the WAITING queue is read as before.

    ``Study.ask`` also looks for WAITING trials before each trial; that query asks the
    database whether there is one (one indexed SELECT) before Optuna's read of every
    trial added or unfinished since the last read (six queries), which then comes only
    when there is one."""

    def __init__(self, backend):
        super().__init__(backend)
        self._created: dict[int, optuna.trial.FrozenTrial] = {}

    def create_new_trial(self, study_id, template_trial=None):
        trial_id = super().create_new_trial(study_id, template_trial)
        if template_trial is None:
            with self._lock:
                number = self._trial_id_to_study_id_and_number[trial_id][1]
                self._created = {trial_id: copy.deepcopy(
                    self._studies[study_id].trials[number])}
        return trial_id

    def get_all_trials(self, study_id, deepcopy=True, states=None):
        if states is not None and set(states) == {TrialState.WAITING}:
            from optuna.storages._rdb import models
            from optuna.storages._rdb.storage import _create_scoped_session

            with _create_scoped_session(self._backend.scoped_session) as session:
                waiting = session.query(models.TrialModel.trial_id).filter(
                    models.TrialModel.study_id == study_id,
                    models.TrialModel.state == TrialState.WAITING).first()
            if waiting is None:
                return []
        return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)

    def get_trial(self, trial_id):
        with self._lock:
            created = self._created.pop(trial_id, None)
        return created if created is not None else super().get_trial(trial_id)

    def set_trial_param(self, trial_id, *args, **kwargs):
        self._created.pop(trial_id, None)
        return super().set_trial_param(trial_id, *args, **kwargs)

    def set_trial_state_values(self, trial_id, *args, **kwargs):
        self._created.pop(trial_id, None)
        return super().set_trial_state_values(trial_id, *args, **kwargs)

    def set_trial_intermediate_value(self, trial_id, *args, **kwargs):
        self._created.pop(trial_id, None)
        return super().set_trial_intermediate_value(trial_id, *args, **kwargs)

    def set_trial_user_attr(self, trial_id, *args, **kwargs):
        self._created.pop(trial_id, None)
        return super().set_trial_user_attr(trial_id, *args, **kwargs)

    def set_trial_system_attr(self, trial_id, *args, **kwargs):
        self._created.pop(trial_id, None)
        return super().set_trial_system_attr(trial_id, *args, **kwargs)
