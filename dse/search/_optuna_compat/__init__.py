"""Every use of Optuna internals, in one place (this package; checked by
tests/test_optuna_compat.py).

Optuna's public API has no way to reach a study's storage and ids, a trial's id, the
heartbeat of an RDB storage, or the journal backend's lock, offsets and replay state;
these helpers do, and ``pyproject.toml`` pins Optuna to the minor versions the
compatibility test passes on.  Hypervolumes come from ``moocore`` (López-Ibáñez et al.,
public API) instead of ``optuna._hypervolume``.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import moocore
import optuna
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import TrialState

from dse.search._optuna_compat._storages import (
    FastCachedStorage,
    FastJournalBackend,
    FastJournalStorage,
    interned,
)

__all__ = ["FastCachedStorage", "FastJournalBackend", "FastJournalStorage", "interned"]


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


def trials_of_this_trial(study: optuna.Study) -> list:
    """The study's trials as read once for the trial being sampled (Optuna's per-trial
    cache, shared with the samplers' own reads; do not mutate)."""
    return study._get_trials(deepcopy=False, use_cache=True)


class _ReadOnce:
    """A study whose trial reads all come from Optuna's per-trial cache (see
    :func:`read_once`); everything else is the study's."""

    def __init__(self, study: optuna.Study):
        self._study = study

    def __getattr__(self, name):
        return getattr(self._study, name)

    def _get_trials(self, deepcopy=True, states=None, use_cache=False):
        return self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=True)

    def get_trials(self, deepcopy=True, states=None):
        return self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=True)


def read_once(study: optuna.Study):
    """``study`` as a sampler should see it while it samples one trial: every read of the
    trials is the one read Optuna caches per trial (``Study.ask`` resets it), where
    Optuna's samplers otherwise read the storage again (NSGA-II: for its search space and
    its parents).  With one process the trials are the same; with several, a sampler sees
    the study as of the trial's first read."""
    return study if isinstance(study, _ReadOnce) else _ReadOnce(study)


class SharedGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, exhaustive with any number of workers.

    Optuna gives a trial the grid point of its number (``grid_id = trial.number`` for
    numbers below the grid size) in a grid shuffled by the seed: every worker must use
    the same seed (``dse.search._samplers``), so that equal numbers name equal points
    and, trial numbers being unique, no point runs twice.  Trials numbered past the grid
    (after re-queued or surplus trials took numbers) take the unvisited points by number
    (``unvisited[number % len]``) instead of a seeded random choice, which two workers
    with equal seeds would make alike.  A FAIL trial marked ``surplus`` (the study was
    complete when it started) leaves its point unvisited, for a later extension."""

    @property
    def space_size(self) -> int:
        """Number of grid points."""
        return len(self._all_grids)

    def before_trial(self, study, trial):
        attrs = trial.system_attrs
        if trial.number < self._n_min_trials or "grid_id" in attrs or "fixed_params" in attrs:
            super().before_trial(study, trial)
            return
        targets = sorted(self._get_unvisited_grid_ids(study)) or list(range(len(self._all_grids)))
        study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
        study._storage.set_trial_system_attr(trial._trial_id, "grid_id",
                                             targets[trial.number % len(targets)])

    def _get_unvisited_grid_ids(self, study):
        visited, running = set(), set()
        for t in study._storage.get_all_trials(study._study_id, deepcopy=False):
            attrs = t.system_attrs
            if "grid_id" not in attrs or not self._same_search_space(attrs["search_space"]):
                continue
            if t.state.is_finished() and not t.user_attrs.get("surplus"):
                visited.add(attrs["grid_id"])
            elif t.state == TrialState.RUNNING:
                running.add(attrs["grid_id"])
        every = set(range(self._n_min_trials))
        return list(every - visited - running or every - visited)


def heartbeat_enabled(storage) -> bool:
    return is_heartbeat_enabled(storage)


def record_heartbeat(storage, trial_id: int) -> None:
    storage.record_heartbeat(trial_id)


def stale_trial_ids(study: optuna.Study) -> list[int]:
    """Ids of the RUNNING trials whose heartbeat is older than the grace period (what
    ``optuna.storages.fail_stale_trials`` fails); one query."""
    return study._storage._get_stale_trial_ids(study._study_id)


CONSTRAINTS_ATTR = "constraints"


def write_trial(trial, *, params=(), user_attrs=None, system_attrs=None) -> None:
    """Store ``params`` (``(name, internal value, distribution)`` triples, in order),
    ``user_attrs`` and ``system_attrs`` of a running trial in one write.

    The stored records are exactly those of ``Trial.suggest_*``, ``Trial.set_user_attr``
    and :func:`set_user_attrs` (one per parameter or attribute, as ``optuna.load_study`` and
    optuna-dashboard read them); only the storage round trips are fewer: one transaction
    on an RDB storage (one lookup of the trial, one INSERT per table), one append and one
    replay on a journal.  Other storages get one call per record.  ``trial``'s cached copy
    is not updated (``Trial`` callers do that)."""
    user_attrs, system_attrs = user_attrs or {}, system_attrs or {}
    storage, tid = trial.storage, trial._trial_id
    if isinstance(storage, _CachedStorage) and storage._backend.engine.name in (
            "sqlite", "postgresql"):
        _write_rdb(storage, tid, params, user_attrs, system_attrs)
    elif isinstance(storage, optuna.storages.JournalStorage):
        _write_journal(storage, tid, params, user_attrs, system_attrs)
    else:
        for name, value, dist in params:
            storage.set_trial_param(tid, name, value, dist)
        for key, value in user_attrs.items():
            storage.set_trial_user_attr(tid, key, value)
        for key, value in system_attrs.items():
            storage.set_trial_system_attr(tid, key, value)


def _write_rdb(storage, tid: int, params, user_attrs: dict, system_attrs: dict) -> None:
    """One transaction (see :func:`write_trial`); mirrors ``_CachedStorage.set_trial_param``
    (the study's cached distributions) and ``RDBStorage._set_trial_attr_without_commit``
    (an upsert per attribute) with one trial lookup and multi-row statements."""
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    backend = storage._backend
    getattr(storage, "_created", {}).pop(tid, None)  # FastCachedStorage: written to
    if backend.engine.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    with storage._lock, _create_scoped_session(backend.scoped_session, True) as session:
        row = models.TrialModel.find_or_raise_by_id(tid, session)
        backend.check_trial_is_updatable(tid, row.state)
        known = storage._studies[storage._trial_id_to_study_id_and_number[tid][0]] \
            .param_distribution
        rows: list[dict] = []  # one INSERT, in suggestion order (Optuna reads them so)

        def insert_rows():
            if rows:
                session.execute(insert(models.TrialParamModel).values(rows))
                rows.clear()

        for name, value, dist in params:
            if name not in known:  # Optuna's own check against the stored parameters
                insert_rows()
                backend._set_trial_param_without_commit(session, tid, name, value, dist)
                session.flush()
                known[name] = dist
                continue
            optuna.distributions.check_distribution_compatibility(known[name], dist)
            rows.append({"trial_id": tid, "param_name": name, "param_value": value,
                         "distribution_json": optuna.distributions.distribution_to_json(dist)})
        insert_rows()
        for model, attrs in ((models.TrialUserAttributeModel, user_attrs),
                             (models.TrialSystemAttributeModel, system_attrs)):
            if attrs:
                stmt = insert(model).values([{"trial_id": tid, "key": k,
                                              "value_json": json.dumps(v)}
                                             for k, v in attrs.items()])
                session.execute(stmt.on_conflict_do_update(
                    index_elements=[model.trial_id, model.key],
                    set_={"value_json": stmt.excluded.value_json}))


def _write_journal(storage, tid: int, params, user_attrs: dict, system_attrs: dict) -> None:
    """The records ``JournalStorage`` writes one by one, appended together (one lock and
    one write) and replayed once."""
    from optuna.distributions import distribution_to_json
    from optuna.storages.journal._storage import JournalOperation as Op

    logs = [{"op_code": Op.SET_TRIAL_PARAM, "trial_id": tid, "param_name": name,
             "param_value_internal": value, "distribution": distribution_to_json(dist)}
            for name, value, dist in params]
    logs += [{"op_code": Op.SET_TRIAL_USER_ATTR, "trial_id": tid, "user_attr": {k: v}}
             for k, v in user_attrs.items()]
    logs += [{"op_code": Op.SET_TRIAL_SYSTEM_ATTR, "trial_id": tid, "system_attr": {k: v}}
             for k, v in system_attrs.items()]
    if not logs:
        return
    with storage._thread_lock:
        worker = storage._replay_result.worker_id
        storage._backend.append_logs([{"op_code": log.pop("op_code"), "worker_id": worker,
                                       **log} for log in logs])
        storage._sync_with_backend()


def set_user_attrs(trial, attrs: dict, constraints=None) -> None:
    """``trial.set_user_attr(k, v)`` for every item of ``attrs`` and, when given, the
    running trial's constraint values (feasible when all <= 0), in one storage write
    (:func:`write_trial`).

    The constraints are one list in the trial system attr ``constraints``: the format
    optuna-dashboard 0.21 shows (its trial serializer reads ``system_attrs["constraints"]``)
    and one that Optuna 5 still reads as ``trial.constraints`` (``{"0": v0, "1": v1,
    ...}``, in the spec's order) for every sampler, the visualisations and
    ``best_trials``.  ``Trial.set_constraint`` would write one ``constraints:<name>``
    record per constraint, which optuna-dashboard ignores; storing both would make Optuna
    count each constraint twice.
    """
    system = {}
    if constraints is not None:
        system[CONSTRAINTS_ATTR] = [float(v) for v in constraints]
    write_trial(trial, user_attrs=attrs, system_attrs=system)
    trial._cached_frozen_trial.user_attrs.update(attrs)
    trial._cached_frozen_trial.system_attrs.update(system)


class _ParamBuffer:
    """A trial's storage that holds back the trial's parameter writes (see
    :func:`batched_params`); every other call goes to the storage."""

    def __init__(self, storage, trial_id: int):
        self._storage, self._trial_id, self.params = storage, trial_id, []

    def __getattr__(self, name):
        return getattr(self._storage, name)

    def set_trial_param(self, trial_id, param_name, param_value_internal, distribution):
        if trial_id != self._trial_id:
            self._storage.set_trial_param(trial_id, param_name, param_value_internal,
                                          distribution)
        else:
            self.params.append((param_name, param_value_internal, distribution))


@contextmanager
def batched_params(trial):
    """Within the block, ``trial.suggest_*`` stores nothing; at its end (also on an
    error) the suggested parameters are stored in one write (:func:`write_trial`).
    The trial's own view (``trial.params``) is current throughout; the samplers see the
    study as stored, where the trial's parameters appear at the end of the block."""
    buffer = _ParamBuffer(trial.storage, trial._trial_id)
    trial.storage = buffer
    try:
        yield
    finally:
        trial.storage = buffer._storage
        if buffer.params:
            write_trial(trial, params=buffer.params)


def journal_file(storage) -> str | None:
    """The file of a journal storage (``None`` for other storages)."""
    return getattr(getattr(storage, "_backend", None), "_file_path", None)
