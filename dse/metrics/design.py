"""Metrics of the design itself, independent of the workload (exact at any fidelity)."""

from __future__ import annotations

from dse.metrics._registry import Metric


def _area_mm2(design) -> float:
    from cost_models import area_breakdown  # the model packages load when a metric computes

    return float(area_breakdown(design)["total"])


METRICS = (
    Metric("area_mm2", "chip area", _area_mm2,
           unit="mm2", direction="minimize", source="design", exact=True),
)
