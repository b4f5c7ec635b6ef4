"""End-to-end studies on the real cost model and simulator (small traces)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from dse.cli import main
from dse.search import open_study, run, status
from dse.spec import load_spec


def _run(path, **kw):
    spec = load_spec(path)
    return spec, run(spec, **kw)


def _summary(study):
    return [(t.number, t.state.name, t.params, t.values)
            for t in study.get_trials(deepcopy=False)]


def test_run_stores_everything_plain_optuna_needs(tiny_study, tmp_path):
    path = tiny_study(n_trials=6)
    spec, res = _run(path)
    assert res.counts["COMPLETE"] == 6 and res.counts["RUNNING"] == 0
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path}/study.db")
    assert study.metric_names == ["slo_attainment", "area_mm2"]
    assert study.user_attrs["spec_hash"] == spec.spec_hash
    assert study.user_attrs["seed"] == 11 and "dse_version" in study.user_attrs
    assert "[space.npu]" in study.user_attrs["spec"]
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        ua = t.user_attrs
        assert set(ua) >= {"npu", "policy", "policy_params", "metrics", "area_mm2", "requests"}
        assert ua["npu"]["pe_count"] == t.params["pe_count"]
        assert ua["policy"] == "fluid" and ua["policy_params"]["max_batch"] == \
            t.params["fluid.max_batch"]
        assert t.values[0] == ua["metrics"]["overall"]["slo_attainment"]
        assert t.values[1] == ua["area_mm2"]["total"] > 0
        assert ua["requests"] == 400
    st = status(spec, study)
    assert st["counts"]["COMPLETE"] == 6 and st["pareto_size"] >= 1
    assert 0.0 < st["hypervolume"] <= 1.0


def test_a_study_whose_creator_was_killed_before_describing_it_is_completed(tiny_study,
                                                                           tmp_path):
    # a run SIGKILLed between create_study and storing the spec: the next run fills it in
    spec = load_spec(tiny_study(n_trials=2))
    bare = optuna.create_study(study_name="tiny", storage=f"sqlite:///{tmp_path}/study.db",
                               directions=spec.directions)
    assert bare.user_attrs == {} and bare.metric_names is None
    study = open_study(spec)
    assert study.user_attrs["spec_hash"] == spec.spec_hash and "[space.npu]" in \
        study.user_attrs["spec"]
    assert study.metric_names == ["slo_attainment", "area_mm2"]


def test_same_seed_same_results_bit_for_bit(tiny_study):
    a = tiny_study(n_trials=7, storage="a.db", filename="a.toml")
    b = tiny_study(n_trials=7, storage="b.db", filename="b.toml")
    _, ra = _run(a)
    _, rb = _run(b)
    assert _summary(ra.study) == _summary(rb.study)
    wall = ("sim_seconds", "requests_per_second")  # kernel wall time: not a result

    def metrics(res):
        return [{k: v for k, v in t.user_attrs["metrics"].items() if k not in wall}
                for t in res.study.get_trials()]

    assert metrics(ra) == metrics(rb)


def test_grid_enumerates_small_space_exactly(tiny_study):
    path = tiny_study(sampler="grid", n_trials=None, policy="static", requests=200,
                      policy_space="[space.policy.static]\nmax_batch = [2, 8]\n"
                                   "max_queue_delay_ms = 1.0")
    text = path.read_text().replace("pe_count = [16, 32, 64, 128]", "pe_count = [32, 64]")
    path.write_text(text)
    spec, res = _run(path)
    grid = spec.space.grid()
    expected = {tuple(p) for p in itertools.product(*grid.values())}
    assert len(expected) == 2 * 2 * 2 * 2 == spec.n_trials
    trials = res.study.get_trials(states=(TrialState.COMPLETE,))
    got = [tuple(t.params[k] for k in grid) for t in trials]
    assert len(got) == len(expected) and set(got) == expected


def test_resume_continues_to_total(tiny_study):
    path = tiny_study(n_trials=4)
    _, first = _run(path)
    before = _summary(first.study)
    _, second = _run(path, n_trials=7)
    after = _summary(second.study)
    assert after[:len(before)] == before
    assert second.counts["COMPLETE"] == 7
    _, third = _run(path, n_trials=7)  # already there: nothing runs
    assert _summary(third.study) == after


def test_multi_fidelity_prunes_by_the_documented_rule(tiny_study):
    path = tiny_study(n_trials=20, requests=1500, short=150)
    spec, res = _run(path)
    trials = res.study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 20
    pruned = 0
    for t in trials:  # one worker: trials with smaller numbers finished before t started
        if "duplicate_of" in t.user_attrs:  # re-sampled design: copied, not re-simulated
            twin = res.study.trials[t.user_attrs["duplicate_of"]]
            assert twin.params == t.params and twin.values == t.values
            continue
        earlier = [c.user_attrs["short_values"] for c in complete if c.number < t.number]
        att, area = t.user_attrs["short_values"]
        if len(earlier) < spec.fidelity.prune_after:
            assert t.state == TrialState.COMPLETE
            continue
        atts = [e[0] for e in earlier]
        span = (max(atts) - min(atts)) or max(atts) + 1e-12
        opt = att + spec.fidelity.prune_margin * span  # area is exact: no margin
        dominated = any(a >= opt and b <= area and (a > opt or b < area) for a, b in earlier)
        assert dominated == (t.state == TrialState.PRUNED), t.number
        pruned += t.state == TrialState.PRUNED
    assert pruned, "expected the short trace to prune some designs on this space"


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_ctrl_c_keeps_completed_trials_and_resume_reaches_total(tiny_study, tmp_path):
    path = tiny_study(n_trials=400, requests=3000)
    proc = subprocess.Popen([sys.executable, "-m", "dse", "run", str(path), "--quiet",
                             "--no-report"], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"sqlite:///{tmp_path}/study.db"
    done = 0
    deadline = time.monotonic() + 600  # a cold Numba cache compiles first
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="tiny", storage=url)
            done = len(study.get_trials(states=(TrialState.COMPLETE,)))
        except Exception:
            continue
        if done >= 3:
            break
    assert done >= 3, proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "stopped" in out
    study = optuna.load_study(study_name="tiny", storage=url)
    kept = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(kept) >= done
    assert not study.get_trials(states=(TrialState.RUNNING,))
    total = len(kept) + 2
    spec = load_spec(path)
    res = run(spec, n_trials=total)
    again = res.study.get_trials(states=(TrialState.COMPLETE,))
    assert len(again) == total
    assert [(t.number, t.values) for t in again[:len(kept)]] == \
        [(t.number, t.values) for t in kept]


def test_corrupt_storage_is_one_line_exit_2_and_untouched(tiny_study, tmp_path, capsys):
    path = tiny_study()
    db = tmp_path / "study.db"
    db.write_bytes(b"this is not a database\n" * 10)
    before = db.read_bytes()
    assert main(["run", str(path), "--quiet", "--no-report"]) == 2  # unusable storage given
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a SQLite database" in err[0]
    assert db.read_bytes() == before


def test_same_name_other_objectives_refused_nothing_lost(tiny_study, tmp_path, capsys):
    path = tiny_study(n_trials=3)
    _run(path)
    text = path.read_text().replace('metric = "area_mm2", direction = "minimize"',
                                    'metric = "energy_uj_per_request", direction = "minimize"')
    other = tmp_path / "other.toml"
    other.write_text(text)
    assert main(["run", str(other), "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "objectives" in err and len(err.splitlines()) == 1
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path}/study.db")
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3


def test_unreachable_storage_never_prints_password(tiny_study, capsys):
    path = tiny_study()
    url = "postgresql://alice:Sup3rS3cret@127.0.0.1:9/nodb"
    assert main(["run", str(path), "--storage", url, "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "Sup3rS3cret" not in err and "***" in err and len(err.strip().splitlines()) == 1


def test_parallel_workers_refuse_sqlite(tiny_study, capsys):
    path = tiny_study()
    assert main(["run", str(path), "--workers", "2", "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "journal:///" in err and "SQLite" in err


def test_status_cli_table_and_json(tiny_study, capsys):
    path = tiny_study(n_trials=5)
    _run(path)
    assert main(["status", str(path)]) == 0
    out = capsys.readouterr().out
    assert "complete 5" in out and "Pareto front" in out and "hypervolume" in out
    import json

    assert main(["status", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["COMPLETE"] == 5 and data["pareto"]


def test_status_of_missing_study_is_input_error(tiny_study, capsys):
    path = tiny_study()
    assert main(["status", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no study 'tiny' at" in err and "(the spec's storage)" in err
    assert "give --storage" in err and err.count("\n") == 1


def test_open_study_refuses_changed_spec(tiny_study):
    path = tiny_study(n_trials=2)
    _run(path)
    changed = path.read_text().replace("pe_width = [8, 16]", "pe_width = [8, 32]")
    path.write_text(changed)
    from dse.common import InputError

    with pytest.raises(InputError, match="different spec"):
        open_study(load_spec(path))


def test_journal_replica_shares_keys_and_keeps_few_offsets(tmp_path):
    """The journal backend interns decoded keys (one copy per key across trials) and keeps
    only the byte offsets still ahead; what is read back is unchanged."""
    from dse.search._storage import open_storage

    url = f"journal:///{tmp_path}/s.journal"
    study = optuna.create_study(study_name="j", storage=open_storage(url),
                                directions=["maximize", "minimize"])
    for i in range(30):
        t = study.ask()
        t.suggest_int("pe_count", 1, 8)
        t.set_user_attr("metrics", {"overall": {"p99_latency_ms": float(i), "tag": "x" * 80}})
        study.tell(t, [i / 30, 1.0 + i])
    storage = open_storage(url, create=False)
    trials = optuna.load_study(study_name="j", storage=storage).get_trials(deepcopy=False)
    keys = [next(iter(t.user_attrs["metrics"]["overall"])) for t in trials]
    assert all(k is keys[0] for k in keys)
    assert [t.user_attrs["metrics"]["overall"]["p99_latency_ms"] for t in trials] == \
        [float(i) for i in range(30)]
    assert trials[-1].user_attrs["metrics"]["overall"]["tag"] == "x" * 80
    assert len(storage._backend._log_number_offset) <= 2


def test_a_trial_has_a_heartbeat_before_it_names_its_worker(tiny_study):
    """On RDB storages a trial killed after it recorded ``worker`` must already have a
    heartbeat, or Optuna's stale check never reaps it (and a resume waits forever)."""
    from dse.search._runner import run_worker

    spec = load_spec(tiny_study(n_trials=3))
    study = open_study(spec)
    storage = study._storage
    beats: set = set()
    seen: list = []
    record, set_attr = storage.record_heartbeat, storage.set_trial_user_attr

    def recorded(trial_id):
        record(trial_id)
        beats.add(trial_id)

    def checked(trial_id, key, value):
        if key == "worker" and value is not None:
            seen.append(trial_id in beats)
        set_attr(trial_id, key, value)

    storage.record_heartbeat, storage.set_trial_user_attr = recorded, checked
    run_worker(spec, study, n_trials=3)
    assert seen and all(seen)
