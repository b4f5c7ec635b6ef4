"""Metrics definitions on hand-checked runs, SLO satisfaction, and dse.evaluate wiring."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cost_models import area_breakdown, latency_table, load_npu
from dse.evaluation import evaluate, satisfaction_sweep
from dse.metrics import METRIC_KEYS, compute_metrics, slo_satisfaction
from dse.sim import ModelTables, simulate
from workloads import Scenario, get_model

ROOT = Path(__file__).resolve().parents[1]


def _two_layer_run():
    """Layers of 1 ms (batch 1) / 1.5 ms (batch 2), exit after layer 0 or 1, fcfs:
    r0 [0 -> 1] exit 0; r1 [1 -> 3]; r2 arrives 4 [4 -> 6]; r3 arrives 4.5, exit 0 [6 -> 7]."""
    ms = np.array([[0.0, 1.0, 1.5], [0.0, 1.0, 1.5]])
    t = ModelTables(ms, 10.0 * ms, np.full(ms.shape, 0.5), (0, 1))
    arr = np.array([0.0, 0.5, 4.0, 4.5])
    res = simulate(arr, [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0], [2.0, 2.0], [t], "fcfs")
    assert res.completion_ms.tolist() == [1.0, 3.0, 6.0, 7.0]
    return res


def test_metrics_hand_checked():
    res = _two_layer_run()
    acc = np.array([0.5, 0.9, 0.9, 0.5])
    m = compute_metrics(res, [2.0, 2.0], ("a", "b"), acc, warmup=0.0)
    o = m["overall"]
    lat = [1.0, 2.5, 2.0, 2.5]
    assert o["mean_latency_ms"] == pytest.approx(np.mean(lat))
    assert o["p50_latency_ms"] == pytest.approx(2.25)
    assert o["slo_attainment"] == pytest.approx(0.5)  # r0 and r2 within 2 ms
    window_s = (7.0 - 0.0) / 1e3
    assert o["throughput_rps"] == pytest.approx(4 / window_s)
    assert o["goodput_rps"] == pytest.approx(2 / window_s)
    # busy 6 ms of 7 at 50% MAC utilisation
    assert o["utilisation"] == pytest.approx(0.5 * 6.0 / 7.0)
    assert o["mean_batch"] == pytest.approx(1.0)
    assert o["accuracy"] == pytest.approx(0.7)
    assert o["energy_uj_per_request"] == pytest.approx(10.0 * 6.0 / 4)
    assert o["dropped"] == 0 and o["unstable"] is False
    assert m["streams"]["a"]["slo_attainment"] == 1.0
    assert m["streams"]["b"]["slo_attainment"] == 0.0
    assert set(o) == set(METRIC_KEYS) == set(m["streams"]["b"])


def test_per_stream_metrics_equal_each_streams_own_requests():
    """The one-pass grouping gives every stream exactly the metrics of its own measured
    requests (selected by mask, in arrival order), bit for bit."""
    from types import SimpleNamespace

    from dse.metrics import Group, simulation_metrics

    rng = np.random.default_rng(3)
    n, streams = 3000, 5
    arrival = np.sort(rng.uniform(0.0, 500.0, n))
    completion = arrival + rng.exponential(4.0, n)
    completion[rng.random(n) < 0.05] = np.nan
    res = SimpleNamespace(arrival_ms=arrival, completion_ms=completion,
                          dropped=np.isnan(completion) & (rng.random(n) < 0.5),
                          stream=rng.integers(0, streams, n), batch_sum=4 * rng.random(n),
                          exit_layer=rng.integers(0, 4, n), energy_uj=rng.random(n),
                          util_ms=rng.random(n), counters={}, executors=2)
    slo, acc = rng.uniform(2.0, 8.0, streams), rng.random(n)
    names = [f"s{s}" for s in range(streams)]
    got = compute_metrics(res, slo, names, acc, warmup=0.1)
    sl = slice(n // 10, n)
    done = ~res.dropped[sl] & ~np.isnan(completion[sl])
    lat = np.where(done, completion[sl] - arrival[sl], np.inf)
    ok = done & (lat <= slo[res.stream[sl]])
    window = float(max(np.max(completion[sl][done]), arrival[-1]) - arrival[sl][0])
    cols = (lat, ok, done, res.dropped[sl], res.util_ms[sl],
            res.batch_sum[sl] / (res.exit_layer[sl] + 1.0), acc[sl], res.energy_uj[sl])
    for s, name in enumerate(names):
        mask = res.stream[sl] == s
        g = Group(*(c[mask] for c in cols), window, 2, True)
        want = {m.name: m.compute(g) for m in simulation_metrics()}
        assert repr(got["streams"][name]) == repr(want)


def test_warmup_excludes_first_requests_by_arrival():
    res = _two_layer_run()
    m = compute_metrics(res, [2.0, 2.0], ("a", "b"), warmup=0.5)  # r2, r3 measured
    assert m["overall"]["mean_latency_ms"] == pytest.approx(2.25)
    assert m["overall"]["throughput_rps"] == pytest.approx(2 / (3.0 / 1e3))
    assert math.isnan(m["overall"]["accuracy"])  # no accuracy given


def test_drops_count_as_violations_and_flag_unstable():
    ms = np.array([[0.0, 1.0]])
    t = ModelTables(ms, ms, np.ones_like(ms), (0,))
    arr = np.zeros(5)
    res = simulate(arr, np.zeros(5, int), np.zeros(5, int), np.zeros(5, int), [10.0], [t],
                   "fcfs", queue_cap=3)
    m = compute_metrics(res, [10.0], ("s",), warmup=0.0)
    assert m["overall"]["dropped"] == 2
    assert m["overall"]["slo_attainment"] == pytest.approx(3 / 5)
    assert m["overall"]["unstable"] is True and m["streams"]["s"]["unstable"] is True


def test_slo_satisfaction_definition():
    # 3 points x 2 streams: point 0 meets both; point 1 meets mean only; point 2 unstable
    mean = [[1.0, 2.0], [3.0, 1.0], [1.0, 1.0]]
    p95 = [[2.0, 4.0], [9.0, 2.0], [1.0, 1.0]]
    slo = [[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]]
    out = slo_satisfaction(mean, p95, slo, unstable=[False, False, True])
    assert out == {"average": pytest.approx(2 / 3), "tail": pytest.approx(1 / 3), "points": 3}
    assert slo_satisfaction([[math.nan]], [[math.nan]], [[1.0]])["average"] == 0.0


@pytest.fixture(scope="module")
def design():
    return load_npu(str(ROOT / "cost_models/designs/edge_small.toml"))


def _scenario(rate=100.0, slo_ms=30.0):
    return Scenario.from_dict({"name": "t", "streams": [
        {"name": "cam", "model": "resnet18", "arrival": "poisson", "rate_rps": rate,
         "slo_ms": slo_ms},
        {"name": "mic", "model": "mobilenetv2", "arrival": "poisson", "rate_rps": rate,
         "slo_x": 4}]})


def test_evaluate_wiring(design):
    ev = evaluate(design, _scenario(), "fluid", {"max_batch": 4}, n_requests=3000, seed=1)
    assert set(ev.metrics) >= {"overall", "streams", "sim_seconds", "requests_per_second",
                               "area_mm2"}
    assert ev.metrics["area_mm2"] == pytest.approx(area_breakdown(design)["total"])
    assert set(ev.metrics["streams"]) == {"cam", "mic"}
    assert set(ev.requests) == {"arrival_ms", "start_ms", "completion_ms", "exit", "stream",
                                "dropped"}
    assert set(ev.tables) == {"resnet18", "mobilenetv2"}
    assert ev.params["max_batch"] == 4
    again = evaluate(design, _scenario(), "fluid", {"max_batch": 4}, n_requests=3000, seed=1)
    assert np.array_equal(ev.requests["completion_ms"], again.requests["completion_ms"],
                          equal_nan=True)
    # accuracy = mean exit accuracy of completed measured requests
    model = get_model("resnet18")
    assert 0.0 < ev.metrics["streams"]["cam"]["accuracy"] <= max(model.exit_accuracy)


def test_bcedge_runs_on_sliced_tables(design):
    ev = evaluate(design, _scenario(), "bcedge", {"instances": 2}, n_requests=2000, seed=0)
    sliced = latency_table(design.sliced(2), get_model("resnet18").layers)
    assert np.array_equal(ev.tables["resnet18"].ms, sliced.ms)
    assert ev.metrics["area_mm2"] == pytest.approx(area_breakdown(design)["total"])


def test_slo_below_isolated_latency_is_a_warning(design):
    ev = evaluate(design, _scenario(slo_ms=0.5), "fcfs", n_requests=500, seed=0)
    assert any("cam" in w and "isolated" in w for w in ev.warnings)


def test_satisfaction_sweep(design):
    out = satisfaction_sweep(design, _scenario(rate=50.0), "static", loads=(0.5, 8.0),
                             slo_x=(1.0, 20.0), n_requests=1500, seed=0)
    assert out["points"] == 4 and len(out["grid"]) == 4
    # a light load with 20x slack is met; the 8x overload (dropping requests) is not
    grid = {(g["load"], g["slo_x"]): g for g in out["grid"]}
    assert grid[(0.5, 20.0)]["slo_attainment"] > 0.99
    assert grid[(8.0, 20.0)]["slo_attainment"] < 0.9
    assert 0.0 < out["average"] < 1.0 and out["tail"] <= out["average"]
