"""The incremental trial views (TrialIndex, the journal's reads of all and of unfinished
trials) agree with a full scan of the storage after every step of a study in which two
clients (two storage objects on one journal file, as two worker processes have) create,
finish and re-queue trials in random order."""

import random

import optuna
import pytest
from optuna.trial import TrialState

from dse.search._index import TrialIndex, params_key
from dse.search._storage import open_storage

STATES = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


def _scan_counts(study):
    out = {s.name: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] += 1
    return out


def _scan_twin(study, params, number):
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.params == params and t.number != number and "metrics" in t.user_attrs:
            return t
    return None


def _records(study, **kwargs):
    return [(t.number, t.state, t.params, t.user_attrs, t.system_attrs, t.values)
            for t in study.get_trials(**kwargs)]


def _check(study, base, idx):
    idx.refresh()
    # the journal's full read (the fast view of every trial) is Optuna's, record for record
    assert _records(study, deepcopy=False) == _records(base, deepcopy=False)
    assert _records(study, deepcopy=True) == _records(base, deepcopy=False)
    assert idx.counts() == _scan_counts(study)
    running = [t.number for t in base.get_trials(deepcopy=False,
                                                 states=(TrialState.RUNNING,))]
    assert [t.number for t in idx.running()] == running
    for states in ((TrialState.WAITING,), (TrialState.RUNNING,),
                   (TrialState.WAITING, TrialState.RUNNING)):
        fast = [t.number for t in study.get_trials(deepcopy=False, states=states)]
        assert fast == [t.number for t in base.get_trials(deepcopy=False, states=states)]
        deep = study.get_trials(deepcopy=True, states=states)
        assert [t.number for t in deep] == fast
    for x in range(3):
        for y in range(2):
            p = {"x": x, "y": y}
            want = _scan_twin(study, p, -1)
            got = idx.twin(p, -1)
            assert (got and got.number) == (want and want.number)
    short = sorted(map(tuple, idx.short_values()))
    assert short == sorted(tuple(t.user_attrs["short_values"])
                           for t in study.get_trials(deepcopy=False,
                                                     states=(TrialState.COMPLETE,))
                           if "short_values" in t.user_attrs
                           and all(v <= 0 for v in t.constraints.values()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_index_matches_full_scan(tmp_path, seed):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url = f"journal:///{tmp_path / 's.journal'}"
    rng = random.Random(seed)
    a = optuna.create_study(storage=open_storage(url), study_name="s")
    b = optuna.load_study(storage=open_storage(url), study_name="s")  # the other worker
    # Optuna's own implementation on the same file: the reference for the fast queries
    base = optuna.load_study(storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "s.journal"))),
        study_name="s")
    idx = TrialIndex(a)
    open_trials = []
    for _ in range(120):
        study = rng.choice((a, b))
        r = rng.random()
        if r < 0.45 or not open_trials:
            t = study.ask()
            t.suggest_int("x", 0, 2)
            t.suggest_int("y", 0, 1)
            open_trials.append(t)
        elif r < 0.85:
            t = open_trials.pop(rng.randrange(len(open_trials)))
            state = rng.choice(STATES)
            if rng.random() < 0.7:
                t.set_user_attr("metrics", {"m": 1})
            if rng.random() < 0.5:
                t.set_user_attr("short_values", [rng.random()])
            t.storage.set_trial_system_attr(t._trial_id, "constraints",
                                            [rng.choice((-1.0, 0.0, 1.0))])
            study.tell(t, 1.0 if state == TrialState.COMPLETE else None, state=state)
        else:
            study.enqueue_trial({"x": rng.randrange(3), "y": rng.randrange(2)})
        _check(a, base, idx)
    # a fresh index on the full study (a resumed worker) agrees as well
    _check(b, base, TrialIndex(b))


def test_params_key_equal_dicts():
    assert params_key({"a": 1, "b": "x"}) == params_key({"b": "x", "a": 1})
    assert params_key({"a": 1}) != params_key({"a": 2})

