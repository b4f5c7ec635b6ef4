"""Storage-call budget: what one trial costs in calls to the Optuna storage.

Every trial of a study goes through the storage (its parameters, user attrs, state),
and the objective, the samplers and the worker loop read it.  Counted on the storage
object the study uses (``tests/storage_calls.py``) for a study of 20 trials after 4
warm-up trials, per backend; the budget fails the test when a change adds storage
traffic per trial.  Calls made by the clock (heartbeats, the periodic stale-trial check)
are left out.  Measured (nsga2 tiny study with pruning): see ``BUDGET``.
"""

from __future__ import annotations

import optuna
import pytest
from storage_calls import count_calls

from dse.search import open_study, run_worker
from dse.search._samplers import make_sampler
from dse.spec import load_spec

#: Calls per trial allowed, by backend (measured: sqlite and PostgreSQL 34.8 to 35.2, as
#: the trials' mix of pruned and complete varies with the sampler's path; journal 28.5,
#: in-memory 44.2; the in-memory storage also counts Optuna's check_trial_is_updatable,
#: which the RDB cache and the journal answer without a call).  8 of them store the
#: parameters and 8 the user attrs (one record each, as Optuna stores them); the trials
#: are read twice (Optuna's waiting-trial check and the one read every sampler shares,
#: ``dse.search._optuna_compat.read_once``).
BUDGET = {"sqlite": 36, "journal": 29, "memory": 45, "postgresql": 36}
WARM, TRIALS = 4, 20


#: Calls made by the clock, not by the trials: Optuna's heartbeat thread, and the stale-trial
#: check the worker loop runs every ``REAP_INTERVAL_S`` (made longer than the test).
TIMED = ("record_heartbeat",)


def _calls_per_trial(spec, study, monkeypatch) -> tuple[float, dict]:
    import dse.search._runner as runner

    run_worker(spec, study, n_trials=WARM)
    monkeypatch.setattr(runner, "REAP_INTERVAL_S", 1e9)
    counter = count_calls(study._storage)
    before = len(study.get_trials(deepcopy=False))
    run_worker(spec, study, n_trials=WARM + TRIALS)
    n = len(study.get_trials(deepcopy=False)) - before
    assert n >= TRIALS
    calls = {k: v for k, v in counter.by_method.items() if k not in TIMED}
    return sum(calls.values()) / n, calls


def _study(tiny_study, storage):
    spec = load_spec(tiny_study(n_trials=100, short=100, requests=300, storage=storage
                                if storage != "memory" else "study.db"))
    if storage == "memory":
        return spec, optuna.create_study(directions=spec.directions, sampler=make_sampler(spec))
    return spec, open_study(spec, spec.storage_url)


@pytest.mark.parametrize("kind", ["sqlite", "journal", "memory"])
def test_storage_calls_per_trial_within_budget(tiny_study, kind, monkeypatch):
    storage = {"sqlite": "study.db", "journal": "study.journal", "memory": "memory"}[kind]
    spec, study = _study(tiny_study, storage)
    per_trial, by_method = _calls_per_trial(spec, study, monkeypatch)
    assert per_trial <= BUDGET[kind], (per_trial, by_method)


def test_storage_calls_per_trial_within_budget_postgresql(tiny_study, postgres_url,
                                                          monkeypatch):
    spec, study = _study(tiny_study, postgres_url)
    per_trial, by_method = _calls_per_trial(spec, study, monkeypatch)
    assert per_trial <= BUDGET["postgresql"], (per_trial, by_method)
