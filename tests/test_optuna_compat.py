"""The Optuna internals dse relies on (all behind ``dse.search._optuna_compat``) still
exist and behave as assumed.  pyproject.toml pins Optuna to the minor versions this
test passes on."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest

from dse.search import _optuna_compat as compat
from dse.search import open_storage


def _study(storage):
    study = optuna.create_study(study_name="c", storage=storage,
                                directions=["maximize", "minimize"])
    trial = study.ask()
    trial.suggest_int("x", 0, 3)
    return study, trial


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_ids_storage_and_heartbeat(tmp_path, kind):
    url = (f"sqlite:///{tmp_path}/s.db" if kind == "sqlite"
           else f"journal:///{tmp_path}/s.journal")
    storage = open_storage(url)
    study, trial = _study(storage)
    tid = compat.trial_id(trial)
    assert compat.storage_of(study).get_trial(tid).number == trial.number
    frozen = study.get_trials(deepcopy=False)[0]
    assert compat.trial_id(frozen) == tid
    assert storage.get_trial_id_from_study_id_trial_number(compat.study_id(study), 0) == tid
    assert compat.heartbeat_enabled(storage) == (kind == "sqlite")
    if kind == "sqlite":
        compat.record_heartbeat(storage, tid)  # RDB storages beat for a trial
        assert compat.journal_file(storage) is None
    else:
        assert compat.journal_file(storage) == f"{tmp_path}/s.journal"


def test_journal_backend_and_storage_shortcuts(tmp_path):
    """The fast journal reads back what it writes, trims offsets, and its WAITING/RUNNING
    query agrees with Optuna's own (the replay attributes it reads exist)."""
    path = f"{tmp_path}/s.journal"
    storage = compat.FastJournalStorage(compat.FastJournalBackend(path))
    study, running = _study(storage)
    for i in range(5):
        t = study.ask()
        t.suggest_int("x", 0, 3)
        study.tell(t, [i, -i])
    study.enqueue_trial({"x": 1})
    replay = storage._replay_result
    assert hasattr(replay, "_study_id_to_trial_ids") and hasattr(replay, "_trials")
    states = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
    fast = storage.get_all_trials(compat.study_id(study), deepcopy=False, states=states)
    plain = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    slow = plain.get_all_trials(compat.study_id(study), deepcopy=False, states=states)
    assert [t.number for t in fast] == [t.number for t in slow] == [0, 6]
    again = compat.FastJournalBackend(path)
    logs = list(again.read_logs(0))
    assert logs == list(plain._backend.read_logs(0))
    assert list(again.read_logs(len(logs))) == []  # a later read keeps the offsets ahead
    assert len(again._log_number_offset) <= 2


def test_hypervolume_matches_exact_boxes():
    """moocore's volume equals a brute-force count of dominated grid cells (2-D and 3-D)."""
    rng = np.random.default_rng(3)
    for m in (2, 3):
        pts = rng.integers(0, 8, size=(12, m)).astype(float)
        ref = np.full(m, 8.0)
        cells = sum(any(np.all(p <= np.array(c), axis=0) for p in pts)
                    for c in itertools.product(range(8), repeat=m))
        assert compat.hypervolume(pts, ref) == pytest.approx(float(cells), abs=1e-9)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_constraint_list_is_what_optuna_and_the_dashboard_read(tmp_path, kind):
    """set_user_attrs stores the constraints as one list under the system attr "constraints": Optuna 5
    reads it as trial.constraints (feasibility, best_trials, samplers) and
    optuna-dashboard 0.21's serializer takes exactly that key."""
    url = (f"sqlite:///{tmp_path}/s.db" if kind == "sqlite"
           else f"journal:///{tmp_path}/s.journal")
    study, trial = _study(open_storage(url))
    compat.set_user_attrs(trial, {}, [-1.0, 0.5])  # infeasible: the second is violated
    study.tell(trial, [1.0, 1.0])
    ok = study.ask()
    ok.suggest_int("x", 0, 3)
    compat.set_user_attrs(ok, {}, [-1.0, -0.5])
    study.tell(ok, [0.5, 2.0])
    frozen = study.trials
    assert frozen[0].system_attrs["constraints"] == [-1.0, 0.5]
    assert frozen[0].constraints == {"0": -1.0, "1": 0.5}
    assert [t.number for t in study.best_trials] == [1]
    serializer = pytest.importorskip("optuna_dashboard._serializer")
    assert serializer.CONSTRAINTS_KEY == "constraints"
