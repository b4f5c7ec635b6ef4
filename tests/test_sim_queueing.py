"""Queueing theory: fcfs on one Poisson stream is an M/G/1 queue.

Mean latency = E[S] + lambda E[S^2] / (2 (1 - rho)) (Pollaczek-Khinchine, e.g. Kleinrock,
Queueing Systems Vol. 1, eq. 5.72/5.105), with S the batch-1 time from layer 0 to the
request's exit on the cost model's latency table.  All requests to the last exit gives
M/D/1.  Arrivals come from the workloads Poisson process (common random numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cost_models import latency_table, load_npu
from dse.evaluation import evaluate
from workloads import Scenario, get_model

DESIGN = Path(__file__).resolve().parents[1] / "cost_models/designs/edge_small.toml"


def _pk_mean(design, model, profile, load):
    table = latency_table(design, model.layers)
    s = np.cumsum(table.ms[:, 1])[list(model.exit_layers)]
    p = np.asarray(profile)
    es, es2 = float(p @ s), float(p @ (s * s))
    lam = load / es  # per ms
    return lam, es + lam * es2 / (2.0 * (1.0 - load))


def _simulated_mean(design, lam_per_ms, profile, n, seeds):
    sc = Scenario.from_dict({"name": "mg1", "streams": [{
        "name": "s", "model": "resnet50", "arrival": "poisson", "rate_rps": lam_per_ms * 1e3,
        "slo_ms": 1e4, "exit_profile": list(profile)}]})
    means = [evaluate(design, sc, "fcfs", n_requests=n, seed=s).metrics["overall"]
             ["mean_latency_ms"] for s in seeds]
    return float(np.mean(means))


@pytest.fixture(scope="module")
def design():
    return load_npu(str(DESIGN))


@pytest.mark.parametrize("load", [0.5, 0.8])
@pytest.mark.parametrize("profile", [(0.0, 0.0, 0.0, 1.0), (0.15, 0.25, 0.30, 0.30)],
                         ids=["MD1", "MG1-exits"])
def test_fcfs_matches_pollaczek_khinchine(design, load, profile):
    model = get_model("resnet50")
    lam, expected = _pk_mean(design, model, profile, load)
    got = _simulated_mean(design, lam, profile, 200_000, seeds=(0, 1, 2))
    assert got == pytest.approx(expected, rel=0.03)


@pytest.mark.heavy
@pytest.mark.parametrize("load", [0.3, 0.5, 0.7, 0.8, 0.9])
def test_fcfs_matches_pollaczek_khinchine_long(design, load):
    model = get_model("resnet50")
    profile = (0.15, 0.25, 0.30, 0.30)
    lam, expected = _pk_mean(design, model, profile, load)
    got = _simulated_mean(design, lam, profile, 1_000_000, seeds=range(5))
    assert got == pytest.approx(expected, rel=0.015 if load < 0.9 else 0.03)
