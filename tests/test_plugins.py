"""A new policy, metric and arrival process each take one module-like definition plus one
registry line, and everything picks them up: the CLI tables, spec validation, the kernel
and the reference simulator, a study and its dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from reference_sim import REFERENCE_POLICIES, reference_simulate, synthetic_case

from dse.cli import main
from dse.common import InputError
from dse.metrics import METRICS, Metric
from dse.metrics import register as register_metric
from dse.sim import POLICIES, Param, Policy, always_continues, param_slots, simulate
from dse.sim import register as register_policy
from dse.sim._state import (
    ACT_CONTINUE,
    XI_CTX,
)
from dse.sim.policies._shared import start_oldest
from dse.spec import parse_spec
from workloads import ARRIVALS, ArrivalParam, ArrivalProcess
from workloads.arrivals import register as register_arrival
from workloads.arrivals._base import seq_cumsum

ROOT = Path(__file__).resolve().parents[1]
NPU = str(ROOT / "cost_models" / "designs" / "edge_small.toml")

# --- a toy policy: one module's worth (parameters, slots, decide, POLICY) -----------------
TOY_PARAMS = (Param("max_batch", "int", 4, 1, 16, False, "largest batch (samples)"),)
P = param_slots(TOY_PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def _toy_decide(st, tb, p, x, now):
    """Greedy: start the oldest queue with up to max_batch samples, run it to the end."""
    if st.xi[XI_CTX, x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    return start_oldest(st, int(p[P.max_batch]))


TOY_POLICY = Policy("greedy_toy", "greedy batches of up to max_batch", TOY_PARAMS,
                    _toy_decide, continues_at=always_continues)


def _toy_reference(sim, ex):  # the same rule in the reference simulator
    return ("continue",) if ex.running else sim._greedy_start(sim.p["max_batch"])


# --- a toy metric and a toy arrival process ----------------------------------------------
TOY_METRIC = Metric("p90_latency_ms", "90th percentile latency", lambda g: g.percentile(90.0),
                    unit="ms", direction="minimize", label="p90 ms", fmt=".2f")


def _uniform_gaps(rng, rate_per_ms, horizon_ms, params):
    """Gaps uniform in (1 -+ spread) / rate: mean 1/rate, prefix-stable chunks."""
    lo, hi = (1 - params["spread"]) / rate_per_ms, (1 + params["spread"]) / rate_per_ms
    chunks, t = [], 0.0
    while t < horizon_ms:
        times = seq_cumsum(t, rng.uniform(lo, hi, 64))
        chunks.append(times)
        t = float(times[-1])
    times = np.concatenate(chunks)
    return times[times < horizon_ms]


TOY_ARRIVAL = ArrivalProcess(
    "uniform_gaps", "inter-arrival gaps uniform around 1/rate_rps",
    {"spread": ArrivalParam("spread", "float", 0.5, "half-width of the gap range, share of "
                                                    "the mean gap", low=0.0, high=1.0)},
    _uniform_gaps)


@pytest.fixture
def toys():
    register_policy(TOY_POLICY)
    REFERENCE_POLICIES[TOY_POLICY.name] = _toy_reference
    register_metric(TOY_METRIC)
    register_arrival(TOY_ARRIVAL)
    yield
    POLICIES.pop(TOY_POLICY.name)
    REFERENCE_POLICIES.pop(TOY_POLICY.name)
    METRICS.pop(TOY_METRIC.name)
    ARRIVALS.pop(TOY_ARRIVAL.name)


def test_a_policy_without_reference_rules_is_an_error():
    """The reference simulator dispatches by an explicit table: a policy it has no rules
    for is an error, never another policy's rules."""
    case = synthetic_case(1, n_requests=50, n_models=1, n_streams=1)
    register_policy(TOY_POLICY)
    try:
        with pytest.raises(KeyError, match="no reference implementation"):
            reference_simulate(case["arrival"], case["stream"], case["model"], case["exit"],
                               case["slo"], case["tables"], TOY_POLICY.name)
    finally:
        POLICIES.pop(TOY_POLICY.name)


def _json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_tables_list_them(toys, capsys):
    toy = next(p for p in _json(capsys, "policies") if p["name"] == "greedy_toy")
    assert [q["name"] for q in toy["params"]] == ["max_batch"]
    metric = next(m for m in _json(capsys, "metrics") if m["name"] == "p90_latency_ms")
    assert metric["unit"] == "ms" and metric["direction"] == "minimize"
    arrival = next(a for a in _json(capsys, "workloads", "arrivals")
                   if a["name"] == "uniform_gaps")
    assert arrival["params"][0]["name"] == "spread"
    for argv, word in ((["policies"], "greedy_toy"), (["metrics"], "p90_latency_ms"),
                       (["workloads", "arrivals"], "uniform_gaps")):
        assert main(argv) == 0 and word in capsys.readouterr().out


SPEC = """
[study]
name = "toys"
sampler = "random"
n_trials = 3
seed = 3
objectives = [{{ metric = "p90_latency_ms" }}, {{ metric = "area_mm2" }}]
[study.constraints]
max_p90_latency_ms = 1000.0
[scenario]
name = "s"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
arrival = "uniform_gaps"
spread = {spread}
rate_rps = 100
slo_ms = 50
[fidelity]
requests = 300
[space.npu]
pe_count = [32, 64]
[space.policy]
name = "greedy_toy"
[space.policy.greedy_toy]
max_batch = {max_batch}
"""


def test_spec_validates_them(toys, tmp_path):
    spec = parse_spec(SPEC.format(spread=0.5, max_batch="[2, 4]"), source="t.toml",
                      base=tmp_path)
    assert spec.objectives[0] == ("p90_latency_ms", "minimize")
    assert spec.constraints[0].metric == "p90_latency_ms"
    assert spec.scenario.streams[0].params == {"spread": 0.5}
    assert spec.space.params["greedy_toy"]["max_batch"].values == (2, 4)
    with pytest.raises(InputError) as e:
        parse_spec(SPEC.format(spread=0.5, max_batch=32), source="t.toml", base=tmp_path)
    assert e.value.field == "space.policy.greedy_toy.max_batch"
    with pytest.raises(InputError) as e:
        parse_spec(SPEC.format(spread=2, max_batch=2), source="t.toml", base=tmp_path)
    assert e.value.field == "scenario.streams[0].spread" and "<= 1.0" in str(e.value)


def test_kernel_and_reference_run_the_toy_policy(toys, capsys):
    case = synthetic_case(8, n_requests=1500, n_models=2, n_streams=3, load=0.9)
    args = (case["arrival"], case["stream"], case["model"], case["exit"], case["slo"],
            case["tables"], "greedy_toy", {"max_batch": 3})
    got, ref = simulate(*args), reference_simulate(*args)
    np.testing.assert_array_equal(got.completion_ms, ref["completion_ms"])
    np.testing.assert_array_equal(got.start_ms, ref["start_ms"])
    argv = ["simulate", "--npu", NPU, "--model", "mobilenetv2", "--rate", "200", "--slo-ms",
            "30", "--policy", "greedy_toy", "--param", "max_batch=4", "--arrival",
            "uniform_gaps", "--requests", "500"]
    stream = _json(capsys, *argv)["streams"]["mobilenetv2"]
    assert stream["p90_latency_ms"] <= stream["p95_latency_ms"]
    assert main(argv) == 0 and "p90 ms" in capsys.readouterr().out


def test_a_study_and_its_dashboard_show_them(toys, tmp_path, capsys):
    path = tmp_path / "toys.toml"
    path.write_text(SPEC.format(spread=0.5, max_batch="[2, 4]"))
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    page = (tmp_path / "results" / "toys" / "dashboard.html").read_text()
    assert "p90_latency_ms (min, ms: 90th percentile latency)" in page
    assert "greedy_toy" in page and "detail unavailable" not in page
    status = _json(capsys, "status", str(path))
    assert status["counts"]["COMPLETE"] == 3
    assert status["objectives"][0] == {"metric": "p90_latency_ms", "direction": "minimize"}
