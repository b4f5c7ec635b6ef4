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


STREAM_PREFIX = "streams."
EVERY_STREAM = "*"
"""``streams.*.<metric>`` in a condition: the metric of every stream."""


def split_metric(name: str) -> tuple[str | None, str]:
    """``("voice", "slo_attainment")`` for ``"streams.voice.slo_attainment"`` (a stream's
    own value of a simulation metric); ``(None, name)`` for an overall or design metric."""
    if name.startswith(STREAM_PREFIX):
        stream, _, base = name[len(STREAM_PREFIX):].rpartition(".")
        return stream, base
    return None, name


def base_metric(name: str) -> Metric:
    """The catalogue record of ``name`` (per-stream names map to their metric)."""
    return METRICS[split_metric(name)[1]]


def check_metric(name, *, streams=(), objective: bool = True, source: str | None = None,
                 field: str = "metric", what: str = "metric") -> str:
    """``name`` if it names a metric a study stores: a catalogue metric (only those that
    may be objectives when ``objective``) or ``streams.<stream>.<metric>`` for a
    simulation metric of one of ``streams``; else a one-line :class:`InputError`."""
    if not isinstance(name, str):
        raise InputError(f"expected a metric name, got {name!r}", source=source, field=field)
    stream, base = split_metric(name)
    pool = [m.name for m in (objective_metrics() if objective else METRICS.values())]
    if stream is not None:
        if stream not in streams and not (stream == EVERY_STREAM and not objective):
            raise InputError(f"unknown stream '{stream}' in '{name}'"
                             f"{did_you_mean(stream, list(streams))}", source=source,
                             field=field, allowed=list(streams) or "(no streams)")
        pool = [m for m in pool if METRICS[m].source == "simulation"]
    if base not in pool:
        hint = did_you_mean(base, pool)
        per = " per stream" if stream is not None else ""
        allowed = pool + ([] if stream is not None else
                          [f"{STREAM_PREFIX}<stream>.<metric>"])
        raise InputError(f"unknown {what}{per} '{base}'{hint}", source=source, field=field,
                         allowed=allowed)
    return name


def metric_value(name: str, metrics: dict, design=None) -> float:
    """The value of metric ``name`` for a study: overall simulation and sweep metrics
    from ``metrics``, ``streams.<stream>.<metric>`` from that stream's metrics; design
    metrics computed from ``design`` (or, without one, as stored in ``metrics``)."""
    stream, base = split_metric(name)
    m = METRICS[base]
    if stream is not None:
        return float(metrics["streams"][stream][base])
    if m.source == "design":
        return float(m.compute(design)) if design is not None else float(metrics[base])
    return float(metrics["overall"][base])
