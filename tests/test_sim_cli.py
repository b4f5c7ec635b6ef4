"""dse simulate / policies / compare: output shape and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dse.cli import main
from dse.metrics import METRIC_KEYS
from dse.sim import LEARNED, POLICIES

ROOT = Path(__file__).resolve().parents[1]
NPU = str(ROOT / "cost_models/designs/edge_small.toml")
SCENARIO = str(ROOT / "workloads/data/scenarios/smart_home.toml")
BASE = ["simulate", "--npu", NPU, "--model", "resnet50", "--rate", "100", "--slo-ms", "40",
        "--requests", "2000"]


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_json_keys(capsys):
    code, out, _ = _run(capsys, [*BASE, "--policy", "fluid", "--param", "max_batch=4",
                                 "--json"])
    assert code == 0
    data = json.loads(out)
    assert {"overall", "streams", "sim_seconds", "requests_per_second"} <= set(data)
    assert set(data["overall"]) == set(METRIC_KEYS)
    assert set(data["streams"]) == {"resnet50"}
    assert set(data["streams"]["resnet50"]) == set(METRIC_KEYS)
    assert data["sim_seconds"] > 0 and data["requests_per_second"] > 0
    assert 0.0 <= data["overall"]["slo_attainment"] <= 1.0


def test_simulate_scenario_table(capsys):
    code, out, _ = _run(capsys, ["simulate", "--npu", NPU, "--scenario", SCENARIO,
                                 "--policy", "prema", "--requests", "2000"])
    assert code == 0
    assert "living_room_cam" in out and "overall" in out and "SLO ok" in out


def test_simulate_same_seed_same_numbers(capsys):
    argv = [*BASE, "--policy", "lazy", "--seed", "3", "--json"]
    a = json.loads(_run(capsys, argv)[1])
    b = json.loads(_run(capsys, argv)[1])
    assert a["overall"] == b["overall"] and a["streams"] == b["streams"]


def test_policies_lists_registry(capsys):
    code, out, _ = _run(capsys, ["policies", "--json"])
    assert code == 0
    data = json.loads(out)
    assert [p["name"] for p in data] == [*POLICIES, *LEARNED]
    fluid = next(p for p in data if p["name"] == "fluid")
    assert {q["name"] for q in fluid["params"]} >= {"refill_level", "catchup_last",
                                                    "min_queue", "slack_ms"}
    code, out, _ = _run(capsys, ["policies"])
    assert code == 0 and "bcedge" in out


@pytest.mark.parametrize("extra, message", [
    (["--policy", "fluidd"], "unknown policy 'fluidd' (did you mean 'fluid'?)"),
    (["--policy", "fluid", "--param", "max_bach=3"], "did you mean 'max_batch'"),
    (["--policy", "static", "--param", "max_batch=0"], "must be >= 1, got 0 (allowed: 1..64)"),
    (["--policy", "static", "--param", "max_queue_delay_ms=abc"], "expected a number"),
    (["--policy", "fcfs", "--param", "x=1"], "unknown parameter 'x' of policy 'fcfs'"),
    (["--policy", "fcfs", "--requests", "0"], "--requests: must be >= 1"),
    (["--policy", "fcfs", "--exit-probs", "0.5,0.5"], "resnet50 has 4 exits, got 2"),
    (["--policy", "fcfs", "--exit-probs", "0.5,0.5,0.5,0.1"], "sum to 1"),
    (["--policy", "fcfs", "--arrival", "bursy"], "did you mean 'bursty'"),
])
def test_simulate_bad_input_one_line_exit_2(capsys, extra, message):
    code, out, err = _run(capsys, [*BASE, *extra])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("dse: error: ")
    assert message in err


def test_negative_rate_and_missing_slo(capsys):
    argv = ["simulate", "--npu", NPU, "--model", "resnet50", "--policy", "fcfs"]
    code, _, err = _run(capsys, [*argv, "--rate", "-5", "--slo-ms", "40"])
    assert code == 2 and "--rate: must be >= 0.001" in err
    code, _, err = _run(capsys, [*argv, "--rate", "5"])
    assert code == 2 and "--slo-ms: required with --model" in err
    code, _, err = _run(capsys, [*argv, "--rate", "5", "--slo-ms", "5", "--scenario", SCENARIO])
    assert code == 2 and "not both" in err


def test_slo_below_isolated_latency_warns(capsys):
    code, out, err = _run(capsys, [*BASE[:-4], "--slo-ms", "1", "--requests", "500",
                                   "--policy", "fcfs"])
    assert code == 0 and "overall" in out
    warnings = [line for line in err.splitlines()  # a cold cache adds the compile notice
                if not line.startswith("dse: compiling kernels")]
    assert len(warnings) == 1 and "dse: warning:" in warnings[0] and "isolated" in err


def test_compare_writes_figure(capsys, tmp_path):
    out_html = tmp_path / "cmp.html"
    code, out, _ = _run(capsys, ["compare", "--npu", NPU, "--model", "mobilenetv2",
                                 "--requests", "600", "--loads", "0.5,1.0",
                                 "--policies", "fcfs,fluid", "--out", str(out_html), "--json"])
    assert code == 0
    data = json.loads(out)
    assert len(data["runs"]) == 2 * 2 * 2  # arrivals x loads x policies
    assert {r["arrival"] for r in data["runs"]} == {"poisson", "spikes"}
    html = out_html.read_text()
    assert "SLO attainment" in html and "plotly" in html
    code, _, err = _run(capsys, ["compare", "--npu", NPU, "--model", "mobilenetv2",
                                 "--loads", "0,1"])
    assert code == 2 and "--loads" in err
