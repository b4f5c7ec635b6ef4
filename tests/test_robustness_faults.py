"""Fault injection: SIGKILL a ``dse run SPEC --workers 4`` process group at random moments,
again and again, on JournalStorage and on PostgreSQL, resuming each time.

Checked after every kill: each trial that was COMPLETE before keeps its parameters, values
and metrics; no trial number is used twice; never more than ``n_trials`` complete trials.
At the end the study holds exactly ``n_trials`` complete trials.  Heavy: minutes each.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from dse.common import InputError
from dse.search import open_storage

pytestmark = pytest.mark.heavy

#: Enough trials (and requests per trial) that ten kill-and-resume rounds, each of which
#: lets a few trials complete, do not finish the study on a fast machine.
N_TRIALS = 400
REQUESTS = 600
#: A space of 720 designs: more than N_TRIALS, so the study never ends by holding its
#: whole space (no design is run twice) before the kills are done.
POLICY_SPACE = ("[space.policy.fluid]\nmax_batch = [2, 4, 8]\n"
                "refill_level = { low = 0.0, high = 1.0, step = 0.25 }\n"
                "catchup_last = [0.0, 0.5, 1.0]")
KILLS = 10


def _snapshot(url: str, name: str) -> dict:
    """``number -> (state, params, values, metrics)`` of every trial of the study."""
    try:
        storage = open_storage(url, create=False)
    except InputError:  # killed before the storage was created: nothing to lose yet
        return {}
    names = optuna.get_all_study_names(storage)
    if name not in names:
        return {}
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)), "duplicate trial numbers"
    out = {}
    for t in trials:
        out[t.number] = (t.state, dict(t.params), tuple(t.values or ()),
                         repr(t.user_attrs.get("metrics")))
    return out


def _complete(snap: dict) -> dict:
    return {n: v for n, v in snap.items() if v[0] == TrialState.COMPLETE}


def _check_kept(before: dict, after: dict) -> None:
    for number, (state, params, values, metrics) in _complete(before).items():
        assert number in after, f"trial {number} vanished"
        a_state, a_params, a_values, a_metrics = after[number]
        assert a_state == TrialState.COMPLETE, f"trial {number}: {state} -> {a_state}"
        assert a_params == params and a_values == values and a_metrics == metrics, number


def _launch(spec, storage, log):
    return subprocess.Popen(
        [sys.executable, "-m", "dse", "run", str(spec), "--workers", "4", "--quiet",
         "--no-report", "--storage", storage],
        cwd=spec.parent, stdout=log, stderr=log, start_new_session=True)


class _Progress:
    """Counts the study's complete trials through one storage handle kept open across polls.

    Optuna's cached storage reads only new and unfinished trials on each poll, so a poll
    stays cheap as the study grows.  (Re-opening the storage and loading every trial on
    each poll took long enough on PostgreSQL that dozens of trials completed between a
    decision to kill and the kill.)
    """

    def __init__(self, url: str, name: str):
        self.url, self.name = url, name
        self.storage = self.study_id = None

    def complete(self) -> int:
        if self.study_id is None:
            try:
                self.storage = self.storage or open_storage(self.url, create=False)
                self.study_id = self.storage.get_study_id_from_name(self.name)
            except (InputError, KeyError):  # not created yet
                self.storage = None
                return 0
        return len(self.storage.get_all_trials(self.study_id, deepcopy=False,
                                               states=(TrialState.COMPLETE,)))


def _wait_for_progress(progress, have, proc, extra, timeout=240.0):
    """Wait until ``extra`` more trials are complete (or the run ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.complete() >= have + extra:
            return
        time.sleep(0.02)


def _kill_resume(spec, url, name, tmp_path, seed):
    rng = random.Random(seed)
    log_path = tmp_path / "runs.log"
    snap = {}
    kills = 0
    progress = _Progress(url, name)
    done = []
    with open(log_path, "wb") as log:
        while kills < KILLS:
            proc = _launch(spec, url, log)
            have = len(_complete(snap))
            if kills % 2:  # a random moment just after new trials complete (mid-trial/write)
                _wait_for_progress(progress, have, proc, rng.randint(1, 2))
                time.sleep(rng.uniform(0.0, 0.3))
            else:  # a random moment from launch on (start-up, study creation, first trials)
                _wait_for_progress(progress, have, proc, rng.randint(3, 8),
                                   timeout=rng.uniform(0.3, 4.0))
            if proc.poll() is not None:
                log.flush()
                assert proc.returncode == 0, (proc.returncode, log_path.read_text()[-3000:])
                break  # finished before we could kill it: too few trials for this test
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            after = _snapshot(url, name)
            _check_kept(snap, after)
            assert len(_complete(after)) <= N_TRIALS
            snap = after
            done.append(len(_complete(after)))
        assert kills == KILLS, (f"the study finished after {kills} kills; raise N_TRIALS",
                                "complete after each kill:", done)
        proc = _launch(spec, url, log)  # the final, undisturbed resume
        assert proc.wait(timeout=900) == 0, log_path.read_text()
    final = _snapshot(url, name)
    _check_kept(snap, final)
    assert len(_complete(final)) == N_TRIALS
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    return final, text


def test_sigkill_resume_journal(tiny_study, tmp_path):
    spec = tiny_study(name="faults", n_trials=N_TRIALS, storage="study.journal", requests=REQUESTS,
                      policy_space=POLICY_SPACE)
    url = str(tmp_path / "study.journal")
    final, _ = _kill_resume(spec, url, "faults", tmp_path, seed=7)
    assert len(final) >= N_TRIALS


def test_sigkill_resume_postgresql(tiny_study, tmp_path, postgres_url):
    name = f"faults-{uuid.uuid4().hex[:8]}"
    spec = tiny_study(name=name, n_trials=N_TRIALS, storage=postgres_url, requests=REQUESTS,
                      policy_space=POLICY_SPACE)
    final, text = _kill_resume(spec, postgres_url, name, tmp_path, seed=11)
    assert "s3cretPW" not in text  # the password in the URL is never printed
    study = optuna.load_study(study_name=name, storage=open_storage(postgres_url))
    assert "s3cretPW" not in repr(study.user_attrs)  # nor stored with the spec text
    assert len(final) >= N_TRIALS
