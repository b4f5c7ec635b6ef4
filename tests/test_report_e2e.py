"""End to end on a real (tiny) study run by `dse run`: report files, export, exact
re-evaluation, confidence intervals, per-design dashboard detail and CLI errors."""

from __future__ import annotations

import json
import os
import textwrap

import optuna
import pytest

from dse.cli import main
from dse.report import evaluate_design, load_design, load_study, read_study
from dse.report.evaluate import comparable

SPEC = textwrap.dedent("""
    [study]
    name = "tiny"
    sampler = "random"
    n_trials = 8
    seed = 3
    objectives = [
      { metric = "slo_attainment", direction = "maximize" },
      { metric = "area_mm2", direction = "minimize" },
    ]
    [study.constraints]
    max_area_mm2 = 5.05

    [scenario]
    name = "one-cam"
    [[scenario.streams]]
    name = "cam"
    model = "resnet18"
    arrival = "poisson"
    rate_rps = 200
    slo_ms = 12

    [fidelity]
    requests = 600

    [space.npu]
    pe_count = [32, 64, 128]
    pe_width = [8, 16]
    batching = ["r", "fluid"]

    [space.policy]
    name = "fluid"
    [space.policy.fluid]
    max_batch = { low = 2, high = 8 }
""")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    spec = d / "tiny.toml"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--quiet"]) == 0
    results = d / "results" / "tiny"
    return {"dir": d, "spec": str(spec), "results": results,
            "url": f"sqlite:///{results / 'study.db'}"}


def test_run_writes_dashboard_and_knee_design(run):
    assert (run["results"] / "dashboard.html").stat().st_size > 1_000_000
    design = load_design(str(run["results"] / "knee_design.toml"))
    data = read_study(load_study("tiny", run["url"]))
    from dse.report import pick

    assert design.provenance["trial"] == pick(data, rule="knee").number
    assert design.provenance["study"] == "tiny" and design.seed == 3
    assert design.requests == 600


def test_feasibility_and_front_match_optuna(run):
    """Constraints set by the runner (Optuna's named format) decide feasibility."""
    study = load_study("tiny", run["url"])
    data = read_study(study)
    expected = [all(v <= 0 for v in t.constraints.values()) for t in data.trials]
    assert data.feasible.tolist() == expected
    assert 0 < data.feasible.sum() < len(data.trials)  # the 5.05 mm2 budget bites
    assert sorted(data.numbers[data.pareto].tolist()) == designs(study.best_trials)


def designs(best_trials) -> list[int]:
    """Optuna's best trials, each distinct design once (its first trial): the Pareto
    designs of every dse report."""
    first: dict = {}
    for t in sorted(best_trials, key=lambda t: t.number):
        first.setdefault(tuple(sorted(t.params.items())), t.number)
    return sorted(first.values())


def test_plain_optuna_sees_names_and_attrs(run):
    study = optuna.load_study(study_name="tiny", storage=run["url"])
    assert study.metric_names == ["slo_attainment", "area_mm2"]
    assert {"spec", "spec_hash", "seed", "dse_version"} <= set(study.user_attrs)
    t = next(t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert {"npu", "policy", "policy_params", "metrics", "area_mm2"} <= set(t.user_attrs)


@pytest.mark.parametrize("ext", ["toml", "json"])
def test_export_then_evaluate_reproduces_exactly(run, ext, capsys):
    out = run["dir"] / f"max.{ext}"
    assert main(["export", run["spec"], "--pick", "max-slo", "--out", str(out)]) == 0
    design = load_design(str(out))
    stored = load_study("tiny", run["url"]).trials[design.provenance["trial"]]
    result = evaluate_design(design)
    assert result["reproduced"] is True
    # every stored metric, bit for bit (timings excluded), against the storage itself
    assert result["runs"][0] == comparable(stored.user_attrs["metrics"])
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert "reproduced: yes" in capsys.readouterr().out


def test_evaluate_seeds_confidence_intervals(run, capsys):
    path = str(run["results"] / "knee_design.toml")
    assert main(["evaluate", path, "--seeds", "3", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["seeds"] == [3, 4, 5]
    s = res["summary"]["overall.slo_attainment"]
    vals = [r["overall"]["slo_attainment"] for r in res["runs"]]
    assert s["mean"] == pytest.approx(sum(vals) / 3)
    assert s["ci95_low"] <= s["mean"] <= s["ci95_high"]
    # other trace length: evaluated, not compared
    assert main(["evaluate", path, "--requests", "300", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reproduced"] is None


def test_dashboard_has_detail_for_pareto_designs(run):
    from dse.report import build_dashboard
    from dse.spec import load_spec

    spec = load_spec(run["spec"])
    study = load_study("tiny", run["url"])
    page = build_dashboard(study, scenario=spec.scenario, fidelity=spec.fidelity,
                           seed=spec.seed)
    text = page.split("const DETAIL = ", 1)[1].replace("<\\/", "</")
    detail = json.JSONDecoder().raw_decode(text)[0]
    assert sorted(int(k) for k in detail) == designs(study.best_trials)
    for entry in detail.values():
        assert "error" not in entry
        assert entry["cdf"]["data"] and entry["layers"] and entry["modes"]
        assert entry["area"]["data"][0]["y"]  # area components


def test_cli_errors_are_one_line(run, tmp_path, capsys):
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace('name = "tiny"', 'name = "tiny2"'))
    code = main(["export", str(other), "--storage", run["url"], "--pick", "knee",
                 "--out", str(tmp_path / "d.toml")])
    err = capsys.readouterr().err
    assert code == 2 and "no study named 'tiny2'" in err and "did you mean 'tiny'" in err
    assert err.count("\n") == 1
    cases = [
        ["export", run["spec"], "--trial", "999", "--out", str(tmp_path / "d.toml")],
        ["export", run["spec"], "--area-budget", "0.001", "--out", str(tmp_path / "d.toml")],
        ["export", run["spec"], "--pick", "knee", "--out", str(tmp_path / "no" / "d.toml")],
        ["export", run["spec"], "--out", str(tmp_path / "d.toml")],
        ["evaluate", str(tmp_path / "missing.toml")],
        ["dashboard", run["spec"], "--out", str(tmp_path / "no" / "d.html")],
    ]
    for argv in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("dse: error: ") and err.count("\n") == 1, argv
    # without --out the design goes next to the study's results
    assert main(["export", run["spec"], "--pick", "min-area"]) == 0
    written = capsys.readouterr().out.rsplit("-> ", 1)[1].strip()
    assert os.path.dirname(written) == str(run["results"]) and load_design(written).npu
    garbage = tmp_path / "g.toml"
    garbage.write_bytes(b"\x00\xff\xfe garbage")
    assert main(["evaluate", str(garbage)]) == 2
    newer = tmp_path / "n.toml"
    newer.write_text((run["results"] / "knee_design.toml").read_text()
                     .replace("schema_version = 1", "schema_version = 7"))
    assert main(["evaluate", str(newer)]) == 2
    assert "newer dse" in capsys.readouterr().err


@pytest.mark.heavy
def test_real_dashboard_in_browser(run, tmp_path):
    """The run's own dashboard, with per-design detail, renders without console errors."""
    from test_report_browser import CHROMIUM, open_dashboard

    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian chromium")
    info = open_dashboard(str(run["results"] / "dashboard.html"), str(tmp_path / "real.png"))
    study = load_study("tiny", run["url"])
    assert info["errors"] == [] and info["requests"] == []
    assert info["pareto"] == len(designs(study.best_trials))
    assert info["plots"] >= 7  # front, hv, importances?, parallel, CDF, layers, area, modes


@pytest.mark.heavy
def test_reproduces_sweep_objective_with_replications(tmp_path):
    """Stored metrics that average replications and add the paper-style satisfaction sweep
    are reproduced exactly too (the fidelity travels in [provenance.fidelity])."""
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC.replace('metric = "slo_attainment"', 'metric = "tail_slo_satisfaction"')
                    .replace("n_trials = 8", "n_trials = 2")
                    .replace("max_area_mm2 = 5.05", "max_area_mm2 = 50.0")
                    .replace("requests = 600", "requests = 300\nreplications = 2"))
    assert main(["run", str(spec), "--quiet", "--no-report"]) == 0
    out = tmp_path / "d.toml"
    assert main(["export", str(spec), "--pick", "max-slo", "--out", str(out)]) == 0
    design = load_design(str(out))
    assert design.fidelity["replications"] == 2 and "tail_slo_satisfaction" in design.provenance[
        "needed"]
    result = evaluate_design(design)
    assert result["reproduced"] is True
    assert "tail_slo_satisfaction" in result["runs"][0]["overall"]


def test_tampered_metrics_are_not_reproduced(run, tmp_path, capsys):
    text = (run["results"] / "knee_design.toml").read_text()
    design = load_design(str(run["results"] / "knee_design.toml"))
    p95 = design.metrics["overall"]["p95_latency_ms"]
    line = f"p95_latency_ms = {p95!r}"
    assert line in text
    bad = tmp_path / "tampered.toml"
    bad.write_text(text.replace(line, f"p95_latency_ms = {p95 * 1.5!r}", 1))
    assert main(["evaluate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "NOT reproduced" in err and "overall.p95_latency_ms" in err
