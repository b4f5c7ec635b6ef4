"""Capacity-fair comparisons (dse.experiments): samples in flight, load 1.0, absolute SLOs,
spike sizes, the tuning protocol, confidence intervals, and ``dse compare`` on top."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cost_models import load_npu
from dse.cli import main
from dse.evaluation import isolated_ms, model_table, satisfaction_sweep
from dse.experiments import (
    capacity_rps,
    compare,
    fair_params,
    model_workloads,
    samples_in_flight,
    tune,
    tuning_dims,
)
from dse.experiments.fairness import SPIKE_X
from dse.metrics.stats import mean_ci, ratio_ci
from dse.search import optimize
from dse.sim import POLICIES, get_policy
from workloads import get_model, shift_profile

ROOT = Path(__file__).resolve().parents[1]
NPU = str(ROOT / "cost_models/designs/edge_small.toml")
DESIGN = load_npu(NPU)


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- samples in flight ----------------------------------------------------------------------
def _draws(policy, batch, rng, n=20):
    """Parameter sets a tuning run can propose for ``policy`` (random draws of its dims)."""
    dims = tuning_dims(policy, batch, ms_high=50.0)
    for _ in range(n):
        out = {}
        for name, d in dims.items():
            if isinstance(d, tuple):
                out[name] = d[rng.integers(len(d))]
            elif d.kind == "int":
                out[name] = int(rng.integers(d.low, d.high + 1))
            elif d.kind == "bool":
                out[name] = bool(rng.integers(2))
            else:
                out[name] = float(rng.uniform(d.low, d.high))
        yield out


@pytest.mark.parametrize("policy", list(POLICIES))
def test_no_policy_gets_more_samples_in_flight(policy):
    """Every registered batching policy gets exactly ``batch`` samples in flight (bcedge:
    instances x batch / instances), with its defaults and with any tuned parameters;
    fcfs, which does not batch, 1.  No policy ever gets more than another batching one."""
    pol = get_policy(policy)
    for batch in (8, 12, 32):
        rng = np.random.default_rng(batch)
        assert "max_batch" not in tuning_dims(policy, batch)  # the budget is never tuned
        for params in [None, *_draws(policy, batch, rng)]:
            fair = fair_params(policy, params, batch)
            flight = samples_in_flight(policy, fair, DESIGN.max_batch)
            assert flight == (batch if "max_batch" in pol.params else 1), (policy, fair)
            if pol.instances_param:
                assert fair["max_batch"] * fair[pol.instances_param] == batch


def test_compare_records_equal_samples_in_flight_and_keeps_them():
    """Each run of a comparison says its samples in flight; the simulated batches never
    exceed a policy's per-instance share of them."""
    workloads, _ = model_workloads(DESIGN, "mobilenetv2", arrival="spikes")
    res = compare(DESIGN, workloads, loads=[1.0], n_requests=400, batch=8)
    assert len(res.runs) == 2 * len(POLICIES)
    for r in res.runs:
        assert r["samples_in_flight"] == (1 if r["policy"] == "fcfs" else 8)
        params = res.params[r["arrival"]][r["policy"]]
        per_instance = params.get("max_batch", 1)
        assert r["mean_batch"] <= per_instance + 1e-9
    assert any("samples in flight: 8" in line for line in res.held_equal)


def test_instances_must_divide_the_budget():
    from dse.common import InputError

    with pytest.raises(InputError, match="3 instances do not divide the 32 samples"):
        fair_params("bcedge", {"instances": 3}, 32)
    assert tuning_dims("bcedge", 12)["instances"] == (1, 2, 3, 4, 6)


# --- load 1.0, SLOs, spikes --------------------------------------------------------------------
def test_capacity_is_the_best_expected_throughput_with_exits():
    """Load 1.0 = max over b of b / E[T(b)]; with the no-exit profile it is the plain best
    batch throughput b / sum_l ms[l, b], and exits make it larger."""
    t = model_table(DESIGN, "resnet50")
    full = max(b / t.ms[:, b].sum() for b in range(1, DESIGN.max_batch + 1)) * 1e3
    n = get_model("resnet50").n_exits
    assert capacity_rps(DESIGN, "resnet50", exit_profile=shift_profile(
        get_model("resnet50").exit_profile, 1.0)) == pytest.approx(full, rel=1e-12)
    assert capacity_rps(DESIGN, "resnet50") > 1.2 * full
    assert capacity_rps(DESIGN, "resnet50", exit_profile=(0,) * (n - 1) + (1,)) == \
        pytest.approx(full, rel=1e-12)
    # batch 1: one sample's expected time, sum over layers of ms[l, 1] x P(still active)
    alive = [sum(p for p, last in zip(get_model("resnet50").exit_profile,
                                      get_model("resnet50").exit_layers, strict=True)
                 if last >= layer) for layer in range(t.ms.shape[0])]
    assert capacity_rps(DESIGN, "resnet50", batch=1) == pytest.approx(
        1e3 / float(np.dot(t.ms[:, 1], alive)), rel=1e-9)


def test_spike_sizes_scale_with_capacity():
    fast = dataclasses.replace(DESIGN, pe_count=128)
    sizes = []
    for d in (DESIGN, fast):
        workloads, base = model_workloads(d, "resnet18")
        spike = workloads["spikes"].streams[0].params["spike_size"]
        iso = isolated_ms(d, ["resnet18"])["resnet18"]
        assert spike == max(2, round(SPIKE_X * iso * base / 1e3))
        sizes.append((spike, base))
    assert sizes[0][1] != sizes[1][1]


def test_satisfaction_sweep_slos_are_absolute_and_shared():
    """The sweep's SLO targets do not depend on the design simulated."""
    workloads, _ = model_workloads(DESIGN, "resnet18")
    fast = dataclasses.replace(DESIGN, pe_count=128)
    grids = [satisfaction_sweep(d, workloads["poisson"], "fcfs", loads=(0.5,),
                                slo_x=(2.0, 8.0), n_requests=300)["grid"]
             for d in (DESIGN, fast)]
    assert [g["slo_ms"] for g in grids[0]] == [g["slo_ms"] for g in grids[1]]
    ref = isolated_ms(load_npu(ROOT / "cost_models/designs/edge_small.toml"), ["resnet18"])
    assert grids[0][1]["slo_ms"] == [pytest.approx(8.0 * ref["resnet18"])]


# --- tuning and statistics -------------------------------------------------------------------
def test_tune_starts_from_the_defaults_and_never_loses_to_them():
    calls = []

    def score(params):  # best at slack 3 ms; the defaults (slack 0) score 0
        calls.append(params)
        return -abs(params["slack_ms"] - 3.0) + 3.0

    rec = tune("lazy", score, optimize=optimize, batch=16, budget=12, seed=1, ms_high=10.0)
    assert calls[0] == fair_params("lazy", None, 16)
    assert rec["default_score"] == 0.0 and rec["score"] >= rec["default_score"]
    assert rec["params"]["max_batch"] == 16 and 0.0 <= rec["params"]["slack_ms"] <= 10.0
    assert all(0.0 <= c["slack_ms"] <= 10.0 for c in calls)  # ms searched up to ms_high


def test_confidence_intervals():
    # t(0.975, 4) = 2.776: mean 0.5, sd 0.158 -> half-width 0.196
    mean, lo, hi = mean_ci([0.3, 0.4, 0.5, 0.6, 0.7])
    assert (mean, lo, hi) == pytest.approx((0.5, 0.5 - 0.19632, 0.5 + 0.19632), abs=1e-4)
    assert mean_ci([0.9, 1.0, 1.0], bounds=(0.0, 1.0))[2] == 1.0
    r, lo, hi = ratio_ci([0.6, 0.6, 0.6], [0.3, 0.3, 0.3])
    assert (r, lo, hi) == (2.0, 2.0, 2.0)
    assert math.isinf(ratio_ci([0.5, 0.4], [0.0, 0.0])[0])


# --- dse compare -------------------------------------------------------------------------------
def test_compare_tune_reports_held_out_cis(capsys, tmp_path):
    code, out, _ = _run(capsys, ["compare", "--npu", NPU, "--model", "mobilenetv2",
                                 "--requests", "300", "--loads", "0.5,1.0",
                                 "--policies", "static,fluid", "--tune", "--budget", "2",
                                 "--seeds", "2", "--out", str(tmp_path / "c.html"), "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["seeds"] == [0, 1]
    assert set(data["tuning"]["poisson"]) == {"static", "fluid"}
    assert data["tuning"]["poisson"]["fluid"]["trials"] == 2
    for r in data["runs"]:
        lo, hi = r["slo_attainment_ci"]
        assert 0.0 <= lo <= r["slo_attainment"] <= hi <= 1.0
    assert any(line.startswith("tuning: 2 trials") for line in data["held_equal"])
    code, out, _ = _run(capsys, ["compare", "--npu", NPU, "--model", "mobilenetv2",
                                 "--requests", "300", "--loads", "1.0", "--policies", "fluid",
                                 "--out", str(tmp_path / "c.html")])
    assert code == 0 and "held equal:" in out and "samples in flight: 32" in out


def test_compare_exit_shift(capsys, tmp_path):
    """--exit-shift 1 removes early exits: load 1.0 becomes the no-exit capacity."""
    argv = ["compare", "--npu", NPU, "--model", "resnet18", "--requests", "300",
            "--loads", "1.0", "--policies", "fcfs", "--out", str(tmp_path / "c.html"),
            "--json"]
    code, out, _ = _run(capsys, [*argv, "--exit-shift", "1"])
    assert code == 0
    n = get_model("resnet18").n_exits
    assert json.loads(out)["base_rate_rps"] == pytest.approx(
        capacity_rps(DESIGN, "resnet18", exit_profile=(0,) * (n - 1) + (1,)))
    code, _, err = _run(capsys, [*argv, "--exit-shift", "2"])
    assert code == 2 and "--exit-shift" in err and err.count("\n") == 1
    code, _, err = _run(capsys, [*argv, "--budget", "3"])
    assert code == 2 and "--budget: applies with --tune" in err


def test_every_policy_has_tunable_dims_within_its_declared_ranges():
    for name in POLICIES:
        for key, d in tuning_dims(name, 32, ms_high=20.0).items():
            p = get_policy(name).params[key]
            if isinstance(d, tuple):
                assert all(p.low <= v <= p.high for v in d)
            else:
                assert p.low <= d.low and d.high <= p.high
