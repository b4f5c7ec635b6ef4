"""Metrics: the catalogue (:data:`METRICS`) and how each is computed (DESIGN.md "Metrics").

Adding a metric is one module defining ``METRICS = (Metric(...), ...)`` plus one line in
``_MODULES``; the spec, the search objective, ``dse simulate``, ``dse metrics``, the
dashboard and the docs tables read the catalogue.
"""

from __future__ import annotations

import importlib

from dse.metrics._registry import (
    METRICS,
    Metric,
    base_metric,
    check_metric,
    get_metric,
    metric_value,
    objective_metrics,
    register,
    simulation_metrics,
    split_metric,
)
from dse.metrics.conditions import Condition, parse_condition
from dse.metrics.satisfaction import SATISFACTION_LOADS, SATISFACTION_SLO_X, slo_satisfaction
from dse.metrics.serving import Group, compute_metrics

_MODULES = (
    "dse.metrics.serving",       # latency percentiles, SLO attainment, throughput, ...
    "dse.metrics.satisfaction",  # paper-style average/tail SLO satisfaction
    "dse.metrics.design",        # area
)

for _m in _MODULES:
    for _metric in importlib.import_module(_m).METRICS:
        register(_metric)


def __getattr__(name):
    if name == "METRIC_KEYS":  # names of the per-stream simulation metrics, in order
        return tuple(m.name for m in simulation_metrics())
    raise AttributeError(f"module 'dse.metrics' has no attribute {name!r}")


__all__ = ["METRICS", "METRIC_KEYS", "SATISFACTION_LOADS", "SATISFACTION_SLO_X", "Condition",
           "Group", "Metric", "base_metric", "check_metric", "compute_metrics", "get_metric",
           "metric_value", "objective_metrics", "parse_condition", "register",
           "simulation_metrics", "slo_satisfaction", "split_metric"]
