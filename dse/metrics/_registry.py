"""The metric catalogue: one record per metric, read by the simulator's metrics, the
study spec (objectives, constraints), the search objective, the CLI tables, the
dashboard and the docs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dse.common import InputError, did_you_mean

SOURCES = ("simulation", "sweep", "design")
DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class Metric:
    """One metric.

    ``compute`` by ``source``: ``"simulation"``: ``(Group) -> value`` for each stream and
    overall (:class:`dse.metrics.serving.Group`); ``"sweep"``: ``(sweep result) -> float``
    for the paper-style load x SLO sweep (overall only, run when a study needs it);
    ``"design"``: ``(NpuDesign) -> float`` (top level of the metrics).  ``unit``: "ms",
    "1/s", "uJ", "mm2", or "" for shares and counts; ``direction``: the default objective
    direction; ``exact``: independent of the simulated trace (multi-fidelity search gives
    it no margin); ``objective``: may be a study objective or constraint; ``label`` and
    ``fmt``: column header (<= 8 characters) and format of ``dse simulate``'s table.
    """

    name: str
    doc: str
    compute: Callable
    unit: str = ""
    direction: str = "maximize"
    source: str = "simulation"
    exact: bool = False
    objective: bool = True
    label: str = ""
    fmt: str = ".4g"

    def __post_init__(self):
        if self.source not in SOURCES or self.direction not in DIRECTIONS:
            raise ValueError(f"metric {self.name!r}: source in {SOURCES}, direction in "
                             f"{DIRECTIONS}")


#: name -> :class:`Metric`, in table order.
METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric to :data:`METRICS` (names are unique)."""
    if metric.name in METRICS:
        raise ValueError(f"metric {metric.name!r} registered twice")
    METRICS[metric.name] = metric
    return metric


def get_metric(name: str, *, source: str | None = None, field: str = "metric") -> Metric:
    """The metric ``name``; an unknown name lists the known ones."""
    if name not in METRICS:
        hint = did_you_mean(name, METRICS) if isinstance(name, str) else ""
        raise InputError(f"unknown metric {name!r}{hint}", source=source, field=field,
                         allowed=list(METRICS))
    return METRICS[name]


def simulation_metrics() -> list[Metric]:
    """Metrics computed per stream and overall from one simulation, in table order."""
    return [m for m in METRICS.values() if m.source == "simulation"]


def objective_metrics() -> list[Metric]:
    """Metrics a study may optimise or constrain."""
    return [m for m in METRICS.values() if m.objective]


def metric_value(name: str, metrics: dict, design=None) -> float:
    """The value of metric ``name`` for a study: overall simulation and sweep metrics
    from ``metrics``; design metrics computed from ``design``."""
    m = METRICS[name]
    if m.source == "design":
        return float(m.compute(design))
    return float(metrics["overall"][name])
