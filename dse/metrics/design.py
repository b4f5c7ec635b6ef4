"""Metrics of the design itself, independent of the workload (exact at any fidelity)."""

from __future__ import annotations

from cost_models import area_breakdown
from dse.metrics._registry import Metric

METRICS = (
    Metric("area_mm2", "chip area", lambda design: float(area_breakdown(design)["total"]),
           unit="mm2", direction="minimize", source="design", exact=True),
)
