"""The error sweep: every command fed the mistakes users make.

One table: (id, argv, exit code, fragments that must appear in the message).  For each
case the command runs in-process through ``dse.cli.main`` and must exit with the given code
(2 = usage error, 1 = runtime failure, 0 = warning only), print at most a few lines on
stderr, name the source / field / allowed values given as fragments, never print a
traceback and never print the password of a storage URL.  ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest

from dse.cli import main
from dse.common import InputError

ROOT = Path(__file__).resolve().parents[1]
GOOD_NPU = ROOT / "cost_models" / "designs" / "edge_small.toml"
PASSWORD = "s3cretPW"
GARBAGE = bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100

SPEC = """
[study]
name = "{name}"
sampler = "random"
n_trials = 3
seed = 5
{extra}
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]

[scenario]
name = "s"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
rate_rps = 100
slo_ms = 30

[fidelity]
requests = 200

[space.npu]
pe_count = [32, 64, 128]  # three designs for three trials (a study never repeats one)

[space.policy]
name = "fcfs"
"""

SCENARIO = """
[scenario]
name = "s"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
{line}
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A workspace of good and broken inputs plus one finished study."""
    d = tmp_path_factory.mktemp("errors")
    w = {"dir": d}

    def put(name, text):
        p = d / name
        (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
        w[name] = str(p)

    npu = GOOD_NPU.read_text()
    put("good.toml", npu)
    put("malformed.toml", "[npu\npe_count = 64\n")
    put("garbage.toml", GARBAGE)
    put("garbage.json", GARBAGE)
    put("typo.toml", "[npu]\npe_cont = 64\n")
    put("type.toml", '[npu]\npe_count = "64"\n')
    put("zero.toml", "[npu]\npe_width = 0\n")
    put("stack.toml", "[npu]\npe_count = 64\nstack_factors = [1, 3]\n")
    put("tiny_buf.toml", "[npu]\npe_count = 64\npe_width = 16\nweight_sram_kib = 0.5\n")
    put("tiny_out.toml", "[npu]\npe_count = 64\nout_sram_kib = 0.125\n")
    put("nonpu.toml", "[npuu]\npe_count = 64\n")
    put("sc_typo.toml", SCENARIO.format(line="rate_rsp = 100\nslo_ms = 30"))
    put("sc_neg.toml", SCENARIO.format(line="rate_rps = -5\nslo_ms = 30"))
    put("sc_zero.toml", SCENARIO.format(line="rate_rps = 0\nslo_ms = 30"))
    put("sc_type.toml", SCENARIO.format(line='rate_rps = "fast"\nslo_ms = 30'))
    put("empty.csv", "")
    put("header.csv", "timestamp\n")
    put("sc_empty.toml", SCENARIO.format(line='arrival = "trace"\npath = "header.csv"\n'
                                              "slo_ms = 30"))
    put("sc_void.toml", SCENARIO.format(line='arrival = "trace"\npath = "empty.csv"\n'
                                             "slo_ms = 30"))
    put("spec.toml", SPEC.format(name="sweep", extra='storage = "sqlite:///study.db"'))
    put("spec_typo.toml", SPEC.format(name="sweep", extra="n_trails = 3"))
    put("spec_type.toml", SPEC.format(name="sweep", extra="").replace(
        "n_trials = 3", 'n_trials = "ten"'))
    put("spec_sampler.toml", SPEC.format(name="sweep", extra="").replace(
        'sampler = "random"', 'sampler = "nsga3x"'))
    put("spec_nostudy.toml", SPEC.format(name="never_run",
                                         extra='storage = "sqlite:///never.db"'))
    put("spec_other.toml", SPEC.format(name="sweeep", extra='storage = "sqlite:///study.db"'))
    put("topo.csv", "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\nc1, 8, 8, 9, 9, 3, 4, 1,\n")
    put("corrupt.db", b"SQLite format 3\x00" + GARBAGE)
    put("notsqlite.db", GARBAGE)
    put("garbage.journal", GARBAGE)
    put("pickle.pkl", b"\x80\x04\x95\x00")
    # a finished study (3 trials) to ask for missing trials
    assert main(["run", w["spec.toml"], "--quiet", "--no-report"]) == 0
    # a SQLite database that is valid but truncated in the middle of its pages
    good_db = d / "study.db"
    shutil.copy(good_db, d / "truncated.db")
    with open(d / "truncated.db", "r+b") as fh:
        fh.truncate(os.path.getsize(good_db) // 3)
    w["truncated.db"] = str(d / "truncated.db")
    with sqlite3.connect(d / "empty_schema.db") as con:
        con.execute("create table unrelated (x int)")
    w["empty_schema.db"] = str(d / "empty_schema.db")
    w["pg"] = f"postgresql://dse:{PASSWORD}@127.0.0.1:{_closed_port()}/dse"
    return w


SIM = ["simulate", "--npu", "{good.toml}", "--model", "mobilenetv2", "--rate", "100",
       "--slo-ms", "30", "--requests", "200", "--policy"]

# (id, argv, exit code, fragments of the message: file, field, allowed / hint)
CASES = [
    # ---- missing files
    ("cost-missing-npu", ["cost", "--npu", "{dir}/nope.toml", "--model", "alexnet"], 2,
     ["nope.toml", "not found"]),
    ("cost-missing-topology", ["cost", "--npu", "{good.toml}", "--topology", "{dir}/no.csv"],
     2, ["no.csv"]),
    ("simulate-missing-npu", ["simulate", "--npu", "{dir}/nope.toml", "--model", "alexnet",
                              "--rate", "10", "--slo-ms", "30", "--policy", "fcfs"], 2,
     ["nope.toml", "not found"]),
    ("simulate-missing-scenario", ["simulate", "--npu", "{good.toml}", "--scenario",
                                   "{dir}/nosc.toml", "--policy", "fcfs"], 2, ["nosc.toml"]),
    ("compare-missing-npu", ["compare", "--npu", "{dir}/nope.toml", "--model", "alexnet",
                             "--rate", "10", "--slo-ms", "30"], 2, ["nope.toml"]),
    ("workloads-trace-missing", ["workloads", "trace", "{dir}/nosc.toml"], 2, ["nosc.toml"]),
    ("run-missing-spec", ["run", "{dir}/nospec.toml"], 2, ["nospec.toml"]),
    ("worker-missing-spec", ["worker", "{dir}/nospec.toml"], 2, ["nospec.toml"]),
    ("status-missing-spec", ["status", "{dir}/nospec.toml"], 2, ["nospec.toml"]),
    ("dashboard-missing-spec", ["dashboard", "{dir}/nospec.toml"], 2, ["nospec.toml"]),
    ("export-missing-spec", ["export", "{dir}/nospec.toml", "--pick", "knee", "--out", "{dir}/x.toml"], 2, ["nospec.toml"]),
    ("evaluate-missing-design", ["evaluate", "{dir}/nodesign.toml"], 2, ["nodesign.toml"]),
    # ---- malformed TOML, garbage bytes, wrong format
    ("cost-malformed", ["cost", "--npu", "{malformed.toml}", "--model", "alexnet"], 2,
     ["malformed.toml", "TOML"]),
    ("cost-garbage", ["cost", "--npu", "{garbage.toml}", "--model", "alexnet"], 2,
     ["garbage.toml", "UTF-8"]),
    ("simulate-garbage", SIM[:2] + ["{garbage.toml}"] + SIM[3:] + ["fcfs"], 2,
     ["garbage.toml"]),
    ("simulate-garbage-scenario", ["simulate", "--npu", "{good.toml}", "--scenario",
                                   "{garbage.toml}", "--policy", "fcfs"], 2,
     ["garbage.toml"]),
    ("run-malformed-spec", ["run", "{malformed.toml}"], 2, ["malformed.toml", "TOML"]),
    ("run-garbage-spec", ["run", "{garbage.toml}"], 2, ["garbage.toml"]),
    ("status-garbage-spec", ["status", "{garbage.toml}"], 2, ["garbage.toml"]),
    ("evaluate-malformed", ["evaluate", "{malformed.toml}"], 2, ["malformed.toml"]),
    ("evaluate-garbage-toml", ["evaluate", "{garbage.toml}"], 2, ["garbage.toml"]),
    ("evaluate-garbage-json", ["evaluate", "{garbage.json}"], 2, ["garbage.json"]),
    ("evaluate-pickle", ["evaluate", "{pickle.pkl}"], 2, ["pickle.pkl", "TOML", "JSON"]),
    ("cost-no-npu-table", ["cost", "--npu", "{nonpu.toml}", "--model", "alexnet"], 2,
     ["nonpu.toml", "npu"]),
    # ---- unknown keys and names, with a did-you-mean
    ("cost-unknown-key", ["cost", "--npu", "{typo.toml}", "--model", "alexnet"], 2,
     ["typo.toml", "npu.pe_cont", "did you mean 'pe_count'"]),
    ("run-unknown-key", ["run", "{spec_typo.toml}"], 2,
     ["spec_typo.toml", "n_trails", "did you mean 'n_trials'"]),
    ("simulate-unknown-scenario-key", ["simulate", "--npu", "{good.toml}", "--scenario",
                                       "{sc_typo.toml}", "--policy", "fcfs"], 2,
     ["sc_typo.toml", "rate_rsp", "did you mean 'rate_rps'"]),
    ("simulate-unknown-policy", SIM + ["fluidd"], 2, ["did you mean 'fluid'", "allowed"]),
    ("simulate-unknown-param", SIM + ["static", "--param", "max_bach=4"], 2,
     ["max_bach", "max_batch"]),
    ("simulate-unknown-model", ["simulate", "--npu", "{good.toml}", "--model", "resnet19",
                                "--rate", "10", "--slo-ms", "30", "--policy", "fcfs"], 2,
     ["resnet19", "did you mean 'resnet18'"]),
    ("workloads-unknown-model", ["workloads", "show", "resnet19"], 2,
     ["resnet19", "did you mean 'resnet18'"]),
    ("cost-unknown-model", ["cost", "--npu", "{good.toml}", "--model", "alexnett"], 2,
     ["alexnett", "alexnet"]),
    ("run-unknown-sampler", ["run", "{spec_sampler.toml}"], 2,
     ["spec_sampler.toml", "nsga3x", "nsga2"]),
    ("cli-unknown-command", ["simulat"], 2, ["simulat"]),
    # ---- wrong types
    ("cost-wrong-type", ["cost", "--npu", "{type.toml}", "--model", "alexnet"], 2,
     ["type.toml", "npu.pe_count", "integer"]),
    ("run-wrong-type", ["run", "{spec_type.toml}"], 2, ["spec_type.toml", "n_trials"]),
    ("simulate-wrong-type-scenario", ["simulate", "--npu", "{good.toml}", "--scenario",
                                      "{sc_type.toml}", "--policy", "fcfs"], 2,
     ["sc_type.toml", "rate_rps"]),
    ("simulate-rate-not-number", ["simulate", "--npu", "{good.toml}", "--model", "alexnet",
                                  "--rate", "fast", "--slo-ms", "30", "--policy", "fcfs"], 2,
     ["rate", "fast"]),
    ("cost-batch-not-int", ["cost", "--npu", "{good.toml}", "--model", "alexnet", "--batch",
                            "x"], 2, ["batch"]),
    ("simulate-param-not-number", SIM + ["static", "--param", "max_batch=big"], 2,
     ["max_batch", "big"]),
    # ---- out of range values
    ("cost-zero-width", ["cost", "--npu", "{zero.toml}", "--model", "alexnet"], 2,
     ["zero.toml", "npu.pe_width", "> 0"]),
    ("simulate-param-range", SIM + ["static", "--param", "max_batch=0"], 2,
     ["max_batch", "allowed: 1..64"]),
    ("simulate-warmup-range", SIM + ["fcfs", "--warmup", "1.5"], 2, ["warmup"]),
    ("simulate-zero-requests", SIM[:-3] + ["--requests", "0", "--policy", "fcfs"], 2,
     ["requests"]),
    ("run-zero-workers", ["run", "{spec.toml}", "--workers", "0"], 2, ["workers"]),
    ("run-negative-trials", ["run", "{spec.toml}", "--n-trials", "-3"], 2, ["-3"]),
    ("cost-zero-batch", ["cost", "--npu", "{good.toml}", "--model", "alexnet", "--batch",
                         "0"], 2, ["batch"]),
    # ---- inconsistent designs
    ("cost-stack-factor", ["cost", "--npu", "{stack.toml}", "--model", "alexnet"], 2,
     ["stack.toml", "npu.stack_factors", "does not divide", "allowed"]),
    ("cost-weight-buffer-too-small", ["cost", "--npu", "{tiny_buf.toml}", "--model",
                                      "alexnet"], 2,
     ["tiny_buf.toml", "npu.weight_sram_kib", "tile"]),
    ("cost-out-buffer-too-small", ["cost", "--npu", "{tiny_out.toml}", "--model",
                                   "alexnet"], 2, ["tiny_out.toml", "npu.out_sram_kib"]),
    ("cost-topology-filter-larger", ["cost", "--npu", "{good.toml}", "--topology",
                                     "{topo.csv}"], 2, ["topo.csv", "Filter Height"]),
    # ---- empty traces, zero and negative rates
    ("simulate-empty-trace", ["simulate", "--npu", "{good.toml}", "--scenario",
                              "{sc_empty.toml}", "--policy", "fcfs"], 2,
     ["sc_empty.toml", "path", "no requests"]),
    ("simulate-void-trace", ["simulate", "--npu", "{good.toml}", "--scenario",
                             "{sc_void.toml}", "--policy", "fcfs"], 2,
     ["sc_void.toml", "empty"]),
    ("simulate-zero-rate", ["simulate", "--npu", "{good.toml}", "--model", "alexnet",
                            "--rate", "0", "--slo-ms", "30", "--policy", "fcfs"], 2, ["rate"]),
    ("simulate-negative-rate", ["simulate", "--npu", "{good.toml}", "--model", "alexnet",
                                "--rate", "-5", "--slo-ms", "30", "--policy", "fcfs"], 2,
     ["rate"]),
    ("simulate-negative-rate-scenario", ["simulate", "--npu", "{good.toml}", "--scenario",
                                         "{sc_neg.toml}", "--policy", "fcfs"], 2,
     ["sc_neg.toml", "rate_rps", ">= 0.001"]),
    ("simulate-zero-rate-scenario", ["simulate", "--npu", "{good.toml}", "--scenario",
                                     "{sc_zero.toml}", "--policy", "fcfs"], 2,
     ["sc_zero.toml", "rate_rps"]),
    ("simulate-negative-slo", ["simulate", "--npu", "{good.toml}", "--model", "alexnet",
                               "--rate", "5", "--slo-ms", "-1", "--policy", "fcfs"], 2,
     ["slo"]),
    ("workloads-trace-negative", ["workloads", "trace", "{sc_neg.toml}"], 2,
     ["sc_neg.toml", "rate_rps"]),
    # ---- an SLO below the isolated latency: a warning, not an error
    ("simulate-slo-below-isolated", ["simulate", "--npu", "{good.toml}", "--model",
                                     "mobilenetv2", "--rate", "10", "--slo-ms", "0.01",
                                     "--requests", "100", "--policy", "fcfs"], 0,
     ["warning", "below the isolated"]),
    # ---- missing study or trial
    ("status-no-study", ["status", "{spec_nostudy.toml}"], 2, ["never.db"]),
    ("status-other-study", ["status", "{spec_other.toml}"], 2,
     ["sweeep", "did you mean 'sweep'"]),
    ("export-missing-trial", ["export", "{spec.toml}", "--trial", "999", "--out",
                              "{dir}/x.toml"], 2, ["999"]),
    ("dashboard-no-study", ["dashboard", "{spec_nostudy.toml}"], 2, ["never.db"]),
    ("export-no-study", ["export", "{spec_nostudy.toml}", "--pick", "knee", "--out", "{dir}/x.toml"], 2, ["never.db"]),
    # ---- storages: unreachable server, corrupt files (a storage given that cannot be opened: exit 2, as
    #      issue-level usage errors; a storage failing mid-run is exit 1, tested below)
    ("status-unreachable-postgres", ["status", "{spec.toml}", "--storage", "{pg}"], 2,
     ["postgresql://dse:***@127.0.0.1"]),
    ("run-unreachable-postgres", ["run", "{spec.toml}", "--storage", "{pg}", "--quiet"], 2,
     ["postgresql://dse:***@127.0.0.1"]),
    ("worker-unreachable-postgres", ["worker", "{spec.toml}", "--storage", "{pg}",
                                     "--quiet"], 2, ["postgresql://dse:***@127.0.0.1"]),
    ("export-unreachable-postgres", ["export", "{spec.toml}", "--storage", "{pg}", "--pick",
                                     "knee", "--out", "{dir}/x.toml"], 2,
     ["postgresql://dse:***@127.0.0.1"]),
    ("status-corrupt-sqlite", ["status", "{spec.toml}", "--storage", "sqlite:///{corrupt.db}"],
     2, ["corrupt.db"]),
    ("status-not-sqlite", ["status", "{spec.toml}", "--storage", "sqlite:///{notsqlite.db}"],
     2, ["notsqlite.db"]),
    ("status-truncated-sqlite", ["status", "{spec.toml}", "--storage",
                                 "sqlite:///{truncated.db}"], 2, ["truncated.db"]),
    ("status-foreign-sqlite", ["status", "{spec.toml}", "--storage",
                               "sqlite:///{empty_schema.db}"], 2, ["sweep"]),
    ("run-corrupt-sqlite", ["run", "{spec.toml}", "--storage", "sqlite:///{corrupt.db}",
                            "--quiet"], 2, ["corrupt.db"]),
    ("status-garbage-journal", ["status", "{spec.toml}", "--storage", "{garbage.journal}"],
     2, ["garbage.journal"]),
    ("run-garbage-journal", ["run", "{spec.toml}", "--storage", "{garbage.journal}",
                             "--quiet"], 2, ["garbage.journal"]),
    ("status-bad-storage-url", ["status", "{spec.toml}", "--storage",
                                f"redis://u:{PASSWORD}@h/0"], 2, ["allowed", "u:***@h"]),
]


def _fill(argv, ws):
    return [re.sub(r"\{([^}]+)\}", lambda m: str(ws[m.group(1)]), a) for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_sweep(case, ws, capsys, monkeypatch):
    name, argv, code, fragments = case
    monkeypatch.chdir(ws["dir"])
    argv = _fill(argv, ws)
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == code, f"{name}: exit {rc}, expected {code}\n{err[-2000:]}"
    assert "Traceback" not in err and "Traceback" not in out
    assert PASSWORD not in err and PASSWORD not in out
    if code:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert 1 <= len(lines) <= 3, f"{name}: {len(lines)} lines\n{err}"
        assert lines[-1].startswith("dse: error: "), lines
        text = err
    else:
        text = out + err
    for frag in fragments:
        assert frag.lower() in text.lower(), f"{name}: '{frag}' not in:\n{text}"


@pytest.mark.parametrize("argv, exc", [
    (["--debug", "cost", "--npu", "{dir}/nope.toml", "--model", "alexnet"], InputError),
    (["--debug", "status", "{spec.toml}", "--storage", "{pg}"], InputError),
])
def test_debug_shows_the_traceback(argv, exc, ws):
    with pytest.raises(exc):
        main(_fill(argv, ws))


@pytest.mark.parametrize("argv, code", [
    (["cost", "--npu", "{garbage.toml}", "--model", "alexnet"], 2),
    (["run", "{spec_typo.toml}", "--quiet"], 2),
    (["status", "{spec.toml}", "--storage", "{pg}"], 2),
    (["status", "{spec.toml}", "--storage", "{garbage.journal}"], 2),
])
def test_real_process_prints_exactly_one_line(argv, code, ws):
    """Through the real entry point, Python warnings and library logging included:
    stderr is the one error line, stdout is empty."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "dse", *_fill(argv, ws)], cwd=ws["dir"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dse: error: "), proc.stderr
    assert PASSWORD not in proc.stderr


def test_storage_failure_during_a_run_is_one_line_exit_1(ws, tmp_path, capsys, monkeypatch):
    """The database fails in the middle of a study (locked, server gone): one line naming
    the failure and how to resume, exit 1, no traceback; the trials done so far stay."""
    import optuna

    spec = tmp_path / "spec.toml"
    spec.write_text(Path(ws["spec.toml"]).read_text())
    real = optuna.study.Study.optimize
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the "
                                                         "commit.\nsecond line")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(optuna.study.Study, "optimize", flaky)
    assert main(["run", str(spec), "--quiet", "--no-report"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "storage failed during the run" in err[0], err
    assert "resume" in err[0] and "second line" not in err[0]
    monkeypatch.setattr(optuna.study.Study, "optimize", real)
    assert main(["run", str(spec), "--quiet", "--no-report"]) == 0  # resumes to n_trials
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{tmp_path}/study.db")
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 3
