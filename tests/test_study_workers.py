"""Several workers on one study: journal file and a real PostgreSQL server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import optuna
import pytest
from optuna.trial import TrialState

from dse.cli._runner import run_study
from dse.search import open_study, run_worker
from dse.search._storage import open_storage
from dse.spec import load_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _check_exact(study, n):
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert len({t._trial_id for t in trials}) == len(trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for t in complete:  # every complete trial carries its own full record
        assert {"npu", "policy", "metrics", "area_mm2"} <= set(t.user_attrs)
    return complete


def test_two_local_workers_on_journal_reach_exactly_n(tiny_study, tmp_path):
    path = tiny_study(n_trials=10, storage="study.journal")
    spec = load_spec(path)
    res = run_study(spec, workers=2, progress=False)
    complete = _check_exact(res.study, 10)
    workers = {t.user_attrs["worker"] for t in complete}
    assert len(workers) == 2  # both processes did work


@pytest.mark.heavy
def test_resume_with_more_workers_than_trials_left(tiny_study):
    path = tiny_study(n_trials=6, storage="study.journal")
    spec = load_spec(path)
    run_study(spec, progress=False)
    res = run_study(spec, workers=3, n_trials=8, progress=False)
    _check_exact(res.study, 8)


def test_killed_worker_trial_is_detected_and_retried_on_journal(tiny_study, tmp_path):
    path = tiny_study(n_trials=3, storage="study.journal")
    spec = load_spec(path)
    study = open_study(spec)
    # a trial left RUNNING by a worker process that no longer exists
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    storage = study._storage
    tid = storage.create_new_trial(study._study_id)
    storage.set_trial_param(tid, "pe_count", 1.0,
                            optuna.distributions.CategoricalDistribution([16, 32, 64, 128]))
    storage.set_trial_user_attr(tid, "worker", f"{socket.gethostname()}:{dead.pid}")
    run_worker(spec, study, n_trials=3)
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params["pe_count"] == 32
    _check_exact(study, 3)


def test_postgres_workers_from_two_processes_reach_exactly_n(tiny_study, postgres_url,
                                                            capsys):
    path = tiny_study(name="pg-cli", n_trials=10, storage=postgres_url)
    procs = [subprocess.Popen([sys.executable, "-m", "dse", "worker", str(path), "--quiet"],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "s3cretPW" not in out + err
    study = optuna.load_study(study_name="pg-cli", storage=open_storage(postgres_url))
    complete = _check_exact(study, 10)
    assert study.metric_names == ["slo_attainment", "area_mm2"]
    assert len({t.user_attrs["worker"] for t in complete}) == 2
    from dse.cli import main

    assert main(["status", str(path)]) == 0
    out = capsys.readouterr().out
    assert "complete 10" in out and "s3cretPW" not in out and "dse:***@" in out


@pytest.mark.heavy
def test_postgres_run_with_workers_and_status(tiny_study, postgres_url, capsys):
    from dse.cli import main

    path = tiny_study(name="pg-run", n_trials=8, storage=postgres_url)
    spec = load_spec(path)
    res = run_study(spec, workers=2, progress=False)
    _check_exact(res.study, 8)
    assert main(["status", str(path)]) == 0
    out = capsys.readouterr().out
    assert "complete 8" in out and "s3cretPW" not in out and "dse:***@" in out


def test_worker_refuses_sqlite(tiny_study, capsys):
    from dse.cli import main

    path = tiny_study()
    assert main(["worker", str(path), "--quiet"]) == 2
    assert "not SQLite" in capsys.readouterr().err


@pytest.mark.heavy
def test_killed_postgres_worker_is_failed_by_heartbeat_and_retried(tiny_study, postgres_url):
    import signal
    import time

    path = tiny_study(name="pg-kill", n_trials=50, storage=postgres_url, requests=100000)
    storage = open_storage(postgres_url)
    killed = None
    for _attempt in range(5):  # kill a worker while one of its trials is RUNNING
        proc = subprocess.Popen([sys.executable, "-m", "dse", "worker", str(path), "--quiet"],
                                env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        running = []
        while time.monotonic() < deadline and not running:
            time.sleep(0.2)
            try:
                study = optuna.load_study(study_name="pg-kill", storage=storage)
            except KeyError:
                continue
            # in a trial with its parameters sampled (a retry re-runs those parameters)
            running = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        study = optuna.load_study(study_name="pg-kill", storage=storage)
        still = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.params]
        if still:
            killed = still[0].number
            break
    assert killed is not None, "never caught the worker inside a trial"
    spec = load_spec(path)
    study = open_study(spec)
    n = len(study.get_trials(states=(TrialState.COMPLETE,))) + 2
    run_worker(spec, study, n_trials=n)  # waits out the grace period, then re-runs it
    trials = study.get_trials()
    assert trials[killed].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].params == trials[killed].params
    assert retried[0].state == TrialState.COMPLETE
    _check_exact(study, n)


@pytest.mark.parametrize("storage", ["study.db", "study.journal"])
def test_orphan_trial_without_heartbeat_or_worker_is_retried(tiny_study, monkeypatch,
                                                             storage):
    # a worker killed between creating a trial and its first heartbeat / attr leaves a
    # RUNNING trial that Optuna's heartbeat check never sees
    from dse.search import _storage

    path = tiny_study(n_trials=2, storage=storage)
    spec = load_spec(path)
    study = open_study(spec)
    monkeypatch.setattr(_storage, "GRACE_S", 0)  # after opening: RDBStorage needs > 0
    tid = study._storage.create_new_trial(study._study_id)
    study._storage.set_trial_param(
        tid, "pe_count", 2.0, optuna.distributions.CategoricalDistribution([16, 32, 64, 128]))
    run_worker(spec, study, n_trials=2)
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].params["pe_count"] == 64
    _check_exact(study, 2)


def test_requeued_orphan_with_inherited_worker_is_retried(tiny_study, monkeypatch):
    """Optuna's retry copies the failed trial's user attrs, so a re-queued trial popped
    by a worker killed before its first heartbeat carries the dead worker's name; it is
    still an orphan and is failed and retried (a resume used to wait for it forever)."""
    from dse.search import _storage

    spec = load_spec(tiny_study(n_trials=2, storage="study.db"))
    study = open_study(spec)
    monkeypatch.setattr(_storage, "GRACE_S", 0)
    storage = study._storage
    dist = optuna.distributions.CategoricalDistribution([16, 32, 64, 128])
    first = storage.create_new_trial(study._study_id)
    storage.set_trial_param(first, "pe_count", 1.0, dist)
    storage.set_trial_user_attr(first, "worker", "gone:1")
    storage.set_trial_state_values(first, TrialState.FAIL)
    retry = storage.create_new_trial(study._study_id)  # popped, never beat, then killed
    storage.set_trial_param(retry, "pe_count", 1.0, dist)
    storage.set_trial_user_attr(retry, "worker", "gone:1")
    storage.set_trial_system_attr(retry, "failed_trial", 0)
    import time

    run_worker(spec, study, n_trials=2, deadline=time.monotonic() + 120)  # never hang
    trials = study.get_trials()
    assert trials[1].state == TrialState.FAIL
    retried = [t for t in trials if t.number > 1 and t.system_attrs.get("failed_trial") == 0]
    assert retried and retried[0].params["pe_count"] == 32
    _check_exact(study, 2)


def test_a_stale_reap_lock_file_does_not_block(tiny_study, tmp_path):
    """The journal's re-queue lock is an flock: a lock file left by a killed worker does
    not make the next reaper wait (Optuna's open-lock waited 30 s, then two workers could
    both break it)."""
    import time

    path = tiny_study(n_trials=2, storage="study.journal")
    (tmp_path / "study.journal.stale.lock").write_text("")
    spec = load_spec(path)
    study = open_study(spec)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tid = study._storage.create_new_trial(study._study_id)
    study._storage.set_trial_user_attr(tid, "worker", f"{socket.gethostname()}:{dead.pid}")
    t0 = time.monotonic()
    run_worker(spec, study, n_trials=2, deadline=t0 + 120)
    assert time.monotonic() - t0 < 25
    assert study.get_trials()[0].state == TrialState.FAIL
    _check_exact(study, 2)
