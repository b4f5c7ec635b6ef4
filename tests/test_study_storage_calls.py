"""Storage-call budget: what one trial costs in calls to the Optuna storage.

Every trial of a study goes through the storage (its parameters, user attrs, state),
and the objective, the samplers and the worker loop read it.  Counted on the storage
object the study uses (``tests/storage_calls.py``) for a study of 20 trials after 4
warm-up trials, per backend; the budget fails the test when a change adds storage
traffic per trial.  Calls made by the clock (heartbeats, the periodic stale-trial check)
are left out.  Measured (nsga2 tiny study with pruning): see ``BUDGET``; on the RDB
storages the SQL statements per trial too (``SQL_BUDGET``).
"""

from __future__ import annotations

import optuna
import pytest
from storage_calls import count_calls

from dse.search import open_study, run_worker
from dse.search._samplers import make_sampler
from dse.spec import load_spec

#: Calls per trial allowed, by backend (measured: sqlite and PostgreSQL 19.0, journal
#: 13.0, in-memory 40.9; before the writes were batched 35, 35, 28.5 and 44.2).  The
#: in-memory storage also counts Optuna's check_trial_is_updatable, which the RDB cache
#: and the journal answer without a call; the RDB counts include get_heartbeat_interval
#: (5 per trial, no query).  A trial's parameters are one write after its suggestions
#: and its user attrs one write where it ends (``_optuna_compat.write_trial``); the
#: trials are read once per trial by the samplers and the trial index
#: (``_optuna_compat.read_once``) and once by Optuna's look for WAITING trials.
BUDGET = {"sqlite": 20, "journal": 14, "memory": 42, "postgresql": 20}
#: SQL statements per trial allowed on the RDB storages (what the calls cost; measured:
#: SQLite 50.3, PostgreSQL 49.9, with the heartbeat thread's; on the quickstart 48, where
#: it was 102).
SQL_BUDGET = 52
WARM, TRIALS = 4, 20


#: Calls made by the clock, not by the trials: Optuna's heartbeat thread, and the stale-trial
#: check the worker loop runs every ``REAP_INTERVAL_S`` (made longer than the test).
TIMED = ("record_heartbeat",)


def _calls_per_trial(spec, study, monkeypatch) -> tuple[float, dict]:
    """(storage calls per trial, calls by method); RDB storages also count their SQL
    statements per trial as ``calls["SQL"]`` (not in the first number)."""
    import dse.search._runner as runner

    run_worker(spec, study, n_trials=WARM)
    monkeypatch.setattr(runner, "REAP_INTERVAL_S", 1e9)
    counter = count_calls(study._storage)
    engine = getattr(getattr(study._storage, "_backend", None), "engine", None)
    statements = []
    if engine is not None:
        from sqlalchemy import event

        def count(*_args):
            statements.append(1)
        event.listen(engine, "before_cursor_execute", count)
    before = len(study.get_trials(deepcopy=False))
    run_worker(spec, study, n_trials=WARM + TRIALS)
    n = len(study.get_trials(deepcopy=False)) - before
    assert n >= TRIALS
    calls = {k: v for k, v in counter.by_method.items() if k not in TIMED}
    per_trial = sum(calls.values()) / n
    if engine is not None:
        event.remove(engine, "before_cursor_execute", count)
        calls["SQL"] = len(statements) / n
    return per_trial, calls


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
    if kind == "sqlite":
        assert by_method["SQL"] <= SQL_BUDGET, by_method


def test_storage_calls_per_trial_within_budget_postgresql(tiny_study, postgres_url,
                                                          monkeypatch):
    spec, study = _study(tiny_study, postgres_url)
    per_trial, by_method = _calls_per_trial(spec, study, monkeypatch)
    assert per_trial <= BUDGET["postgresql"], (per_trial, by_method)
    assert by_method["SQL"] <= SQL_BUDGET, by_method
