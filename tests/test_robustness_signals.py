"""Ctrl-C at any moment, any number of times: exit 130, no traceback, every worker
stopped, every complete trial kept.

A real ``python -m dse run SPEC --workers 2`` runs in its own session; SIGINT goes to its
whole process group, as a terminal's Ctrl-C does, at random moments (while dse imports
and opens the study, while the workers spawn, while trials run; not in the first 0.3 s,
where Python's own start-up runs before any of dse), once, twice within 50 ms, or three
times.  Afterwards no process of the group is left, stderr holds no traceback, every
complete trial carries its metrics, and the same command resumes to exactly
``n_trials`` complete trials.  The default run tries 3 moments; ``-m heavy`` tries 24.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import optuna
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _group_alive(pgid: int) -> list[int]:
    """PIDs (not zombies) whose process group is ``pgid``."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d))
    return out


def _run(spec, delay: float, hits: int, gap: float) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "dse", "run", str(spec), "--workers", "2",
                             "--quiet", "--no-report"], cwd=spec.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(delay)
    for i in range(hits):
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(gap if i + 1 < hits else 0)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _group_alive(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"processes left running: {left}\n{err}"
    return proc.returncode, out + err


def _check_stored(spec):
    if not (spec.parent / "study.journal").exists():
        return 0  # interrupted before the study was created
    study = optuna.load_study(study_name="tiny", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(spec.parent / "study.journal"))))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert all("metrics" in t.user_attrs and len(t.values) == 2 for t in done)
    assert len({t.number for t in study.trials}) == len(study.trials)
    return len(done)


def _moments(n: int, seed: int) -> list[tuple[float, int, float]]:
    """(delay after launch s, number of SIGINTs, gap s): start-up, spawn, trials."""
    rng = random.Random(seed)
    fixed = [(0.4, 1, 0.0), (2.5, 2, 0.05), (rng.uniform(4, 9), 3, 0.02),
             (rng.uniform(3, 9), 2, 0.05)]
    extra = [(rng.uniform(0.3, 10.0), rng.choice([1, 2, 2, 3]), rng.choice([0.0, 0.05, 0.2]))
             for _ in range(max(0, n - len(fixed)))]
    return fixed[:n] + extra


def _sigint_runs(tiny_study, n: int, seed: int, n_trials: int):
    # 720 designs, more than n_trials: the interrupted runs never hold the whole space
    spec = tiny_study(name="tiny", sampler="random", n_trials=n_trials, storage="study.journal",
                      requests=1500, policy_space="[space.policy.fluid]\nmax_batch = [2, 4, 8]\n"
                      "refill_level = { low = 0.0, high = 1.0, step = 0.25 }\n"
                      "catchup_last = [0.0, 0.5, 1.0]")
    for delay, hits, gap in _moments(n, seed):
        rc, text = _run(spec, delay, hits, gap)
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
        assert rc in (0, 130), (rc, delay, hits, text)
        _check_stored(spec)
    rc, text = _run(spec, 0, 0, 0)  # resume to the end
    assert rc == 0, text
    assert _check_stored(spec) == n_trials


def test_stop_handler_survives_a_signal_storm():
    """Signals arriving while the stop handler runs nest it inside itself (CPython does):
    a handler that took a lock (``threading.Event.set``) then waited on itself forever
    (and ``print`` refuses a reentrant call).  Thousands of SIGINTs sent back to back by
    another process."""
    code = (
        "import os, signal, subprocess, sys\n"
        "from dse.cli._runner import Stop\n"
        "stop = Stop().install(signal.SIGINT)\n"
        "storm = subprocess.Popen([sys.executable, '-c', 'import os, signal\\n'\n"
        "    f'for _ in range(20000): os.kill({os.getpid()}, signal.SIGINT)'])\n"
        "while storm.poll() is None:\n"
        "    pass\n"
        "print(stop.hits, stop.event.is_set())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    hits, is_set = proc.stdout.split()
    assert int(hits) >= 2 and is_set == "True"
    assert proc.stderr.count("stopping after") == 1 and proc.stderr.count("aborting") == 1


def test_sigint_at_random_moments(tiny_study):
    _sigint_runs(tiny_study, 3, seed=1, n_trials=30)


@pytest.mark.heavy
def test_sigint_at_many_random_moments(tiny_study):
    _sigint_runs(tiny_study, 24, seed=2, n_trials=200)
