"""Synthetic Optuna studies for the report tests (no simulator needed).

The trials carry the user attrs `dse run` stores (`npu`, `policy`, `policy_params`,
`metrics`, `area_mm2`, `requests`); designs and area breakdowns are real cost-model
outputs, objective values are chosen by the tests.
"""

from __future__ import annotations

import dataclasses
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

STUDY = "synthetic"


def make_study(url: str, points, *, metric_names=("slo_attainment", "area_mm2"),
               directions=("maximize", "minimize"), constraints=None, name: str = STUDY):
    """A study whose trial ``i`` has objective values ``points[i]``.

    ``constraints[i]`` (optional) is stored as Optuna constraint values (feasible <= 0).
    """
    from cost_models import area_breakdown, load_npu

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = load_npu(_design_path())
    study = optuna.create_study(study_name=name, storage=url, directions=list(directions))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.set_metric_names(list(metric_names))
    for k, v in {"spec": "[study]\nname = 'synthetic'\n", "spec_hash": "0123456789abcdef",
                 "seed": 11, "dse_version": "0.1.0"}.items():
        study.set_user_attr(k, v)
    pe_choices = [16, 32, 64, 128, 256]
    for i, values in enumerate(points):
        pe = pe_choices[i % len(pe_choices)]
        design = dataclasses.replace(base, pe_count=pe)
        area = {k: float(v) for k, v in area_breakdown(design).items()}
        policy = "fluid" if i % 3 else "static"
        slack = 0.5 + 0.25 * (i % 7)
        slo = float(values[0])
        metrics = {"overall": {"slo_attainment": slo, "mean_latency_ms": 10.0 + i,
                               "p95_latency_ms": 20.0 + 2 * i, "mean_batch": 1.5,
                               "dropped": 0, "unstable": False},
                   "streams": {"cam": {"slo_attainment": slo, "p95_latency_ms": 20.0 + 2 * i}},
                   "sim_seconds": 0.01, "requests_per_second": 1e6, "area_mm2": area["total"]}
        system_attrs = {}
        if constraints is not None:  # Optuna 5's named format, as trial.set_constraint stores
            system_attrs.update({f"constraints:c{j}": float(v)
                                 for j, v in enumerate(constraints[i])})
        study.add_trial(optuna.trial.create_trial(
            values=[float(v) for v in values],
            params={"pe_count": pe, "policy": policy, "slack": slack},
            distributions={"pe_count": CategoricalDistribution(pe_choices),
                           "policy": CategoricalDistribution(["fluid", "static"]),
                           "slack": FloatDistribution(0.1, 5.0)},
            user_attrs={"npu": design.to_dict(), "policy": policy,
                        "policy_params": {"slack_ms": slack}, "metrics": metrics,
                        "area_mm2": area, "requests": 1000},
            system_attrs=system_attrs))
    return study


def _design_path() -> str:
    from pathlib import Path

    import cost_models

    return str(Path(cost_models.__file__).parent / "designs" / "edge_small.toml")


# A hand-checked 2-objective front: (slo maximised, area minimised).
#   trials 0..4 are Pareto-optimal, 5 and 6 are dominated (by 1 and 3).
FRONT = [(0.20, 1.0), (0.70, 2.0), (0.80, 3.0), (0.90, 6.0), (0.95, 10.0),
         (0.60, 2.5), (0.85, 7.0)]
