"""Serving metrics of one simulation, per stream and overall (DESIGN.md "Metrics").

Definitions (times in ms, rates per second):

* Measured requests: all but the first ``warmup`` share by arrival order
  (``n_warm = floor(warmup * N)``).  Everything below uses measured requests only.
* Window: from the first measured arrival to the last measured completion (or the last
  measured arrival, if later).  Throughput, goodput and utilisation divide by it.
* ``latency = completion - arrival`` of completed requests; ``mean/p50/p95/p99`` are over
  completed requests (linear-interpolated percentiles); NaN when none completed.
* ``slo_attainment``: share of measured requests completed within their stream's SLO;
  dropped requests count as violations.
* ``throughput_rps`` completed / window; ``goodput_rps`` completed within SLO / window.
* ``utilisation``: NPU MAC utilisation over the window: sum over the layer passes of
  (pass ms x pass MAC utilisation), each pass shared equally among its samples, summed over
  the group's completed requests, divided by (window ms x executors).  Overall, it is the
  share of the array's peak MACs spent on measured requests.
* ``mean_batch``: mean over completed requests of the average active batch size over the
  layers each one ran.
* ``accuracy``: mean of the completed requests' exit accuracies.
* ``energy_uj_per_request``: mean over completed requests of their share of the energy
  of every layer pass they took part in (uJ).
* ``dropped``: measured requests dropped (queue cap or horizon).
* ``unstable``: the system did not keep up: a measured request was dropped, or the
  queues held at least half their capacity when the last request arrived.  A stream is
  flagged when the whole run is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from dse.metrics._registry import Metric, simulation_metrics

if TYPE_CHECKING:  # NumPy loads in the functions that compute: the catalogue below (what
    # spec validation, ``dse metrics`` and a one-line input error read) needs no numpy
    import numpy as np


@dataclass(eq=False)
class Group:
    """The measured requests of one stream (or of all), as the metrics see them.

    Arrays per measured request: ``latency_ms`` (inf unless completed), ``done``
    (completed), ``ok`` (completed within the SLO), ``dropped``, ``util_ms``, ``batch``
    (mean active batch over its layers), ``accuracy``, ``energy_uj``; ``window_ms`` the
    measurement window, ``executors`` the NPU slices, ``unstable`` the run's flag.
    """

    latency_ms: np.ndarray
    ok: np.ndarray
    done: np.ndarray
    dropped: np.ndarray
    util_ms: np.ndarray
    batch: np.ndarray
    accuracy: np.ndarray
    energy_uj: np.ndarray
    window_ms: float
    executors: int
    unstable: bool

    @property
    def n(self) -> int:
        return int(self.done.size)

    @cached_property
    def n_done(self) -> int:
        return int(self.done.sum())

    @cached_property
    def n_ok(self) -> int:
        return int(self.ok.sum())

    @cached_property
    def completed_latency_ms(self) -> np.ndarray:
        return self.latency_ms[self.done]

    @cached_property
    def _percentiles(self) -> dict[float, float]:
        qs = (50.0, 95.0, 99.0)
        lat = self.completed_latency_ms
        if not lat.size:
            return dict.fromkeys(qs, math.nan)
        import numpy as np

        return {q: float(v) for q, v in zip(qs, np.percentile(lat, qs), strict=True)}

    def percentile(self, q: float) -> float:
        """Linear-interpolated ``q`` percentile of completed latencies (ms; NaN if none)."""
        if q in self._percentiles:
            return self._percentiles[q]
        import numpy as np

        lat = self.completed_latency_ms
        return float(np.percentile(lat, q)) if lat.size else math.nan

    def mean_done(self, values: np.ndarray) -> float:
        """Mean of ``values`` over completed requests (NaN if none)."""
        return float(values[self.done].mean()) if self.n_done else math.nan

    def per_second(self, count: int) -> float:
        """``count`` per second of the window (0 for an empty window)."""
        window_s = self.window_ms / 1000.0
        return count / window_s if window_s > 0 else 0.0


def _mean_latency(g: Group) -> float:
    lat = g.completed_latency_ms
    return float(lat.mean()) if lat.size else math.nan


def _utilisation(g: Group) -> float:
    if g.window_ms <= 0:
        return 0.0
    return float(g.util_ms[g.done].sum() / (g.window_ms * g.executors))


#: The serving metrics, in the order of every metrics table (see the module docstring).
METRICS = (
    Metric("mean_latency_ms", "mean latency", _mean_latency, unit="ms",
           direction="minimize", label="mean ms", fmt=".2f"),
    Metric("p50_latency_ms", "median latency", lambda g: g.percentile(50.0), unit="ms",
           direction="minimize", label="p50 ms", fmt=".2f"),
    Metric("p95_latency_ms", "95th percentile latency", lambda g: g.percentile(95.0),
           unit="ms", direction="minimize", label="p95 ms", fmt=".2f"),
    Metric("p99_latency_ms", "99th percentile latency", lambda g: g.percentile(99.0),
           unit="ms", direction="minimize", label="p99 ms", fmt=".2f"),
    Metric("slo_attainment", "share of requests within their stream's SLO",
           lambda g: g.n_ok / g.n if g.n else math.nan, label="SLO ok", fmt=".3f"),
    Metric("throughput_rps", "completed requests per second",
           lambda g: g.per_second(g.n_done), unit="1/s", label="tput/s", fmt=".1f"),
    Metric("goodput_rps", "requests within SLO per second", lambda g: g.per_second(g.n_ok),
           unit="1/s", label="good/s", fmt=".1f"),
    Metric("utilisation", "NPU MAC utilisation", _utilisation, label="util", fmt=".3f"),
    Metric("mean_batch", "mean batch size", lambda g: g.mean_done(g.batch), label="batch",
           fmt=".2f"),
    Metric("accuracy", "exit-weighted accuracy", lambda g: g.mean_done(g.accuracy),
           label="acc", fmt=".3f"),
    Metric("energy_uj_per_request", "NPU + DRAM energy per request",
           lambda g: g.mean_done(g.energy_uj), unit="uJ", direction="minimize",
           label="uJ/req", fmt=".0f"),
    Metric("dropped", "measured requests dropped (queue cap or horizon)",
           lambda g: int(g.dropped.sum()), direction="minimize", objective=False,
           label="dropped", fmt="d"),
    Metric("unstable", "the run did not keep up (a drop, or queues half full at the end)",
           lambda g: bool(g.unstable), direction="minimize", objective=False,
           label="unstable", fmt=""),
)


def compute_metrics(result, stream_slo_ms, stream_names, accuracy=None, *, warmup=0.1,
                    queue_cap=None) -> dict:
    """``{"overall": {...}, "streams": {name: {...}}}`` of a :class:`dse.sim.SimResult`:
    every registered simulation metric (:data:`dse.metrics.METRICS`) per group.

    ``accuracy`` (per request, fraction) defaults to NaN; ``queue_cap`` enables the
    queue-growth test of ``unstable``.
    """
    import numpy as np

    n = result.arrival_ms.size
    if not (0.0 <= warmup < 1.0):
        raise ValueError("warmup must be in [0, 1)")
    first = int(math.floor(warmup * n))
    sl = slice(first, n)
    arrival = result.arrival_ms[sl]
    completion = result.completion_ms[sl]
    dropped = result.dropped[sl]
    stream = np.asarray(result.stream)[sl]
    done = ~dropped & ~np.isnan(completion)
    lat = np.where(done, completion - arrival, np.inf)
    slo = np.asarray(stream_slo_ms, dtype=np.float64)[stream]
    ok = done & (lat <= slo)
    t1 = max(float(np.max(completion[done])) if done.any() else -math.inf, float(arrival[-1]))
    window_ms = t1 - float(arrival[0])
    batch = result.batch_sum[sl] / (result.exit_layer[sl] + 1.0)
    acc = (np.full(n, math.nan) if accuracy is None else np.asarray(accuracy, float))[sl]
    energy = result.energy_uj[sl]
    util = result.util_ms[sl]
    backlog = result.counters.get("queue_at_last_arrival", 0)
    unstable = bool(dropped.any()) or (queue_cap is not None and backlog >= queue_cap / 2)
    metrics = simulation_metrics()
    columns = (lat, ok, done, dropped, util, batch, acc, energy)

    def group(cols) -> dict:
        g = Group(*cols, window_ms, result.executors, unstable)
        return {metric.name: metric.compute(g) for metric in metrics}

    # one pass over the requests: a stable counting sort by stream (radix sort on small
    # integers) makes each stream's requests one slice, in arrival order as before
    n_streams = len(stream_names)
    key = stream.astype(np.uint16) if n_streams <= 1 << 16 else stream
    order = np.argsort(key, kind="stable")
    bounds = np.zeros(n_streams + 1, dtype=np.int64)
    np.cumsum(np.bincount(stream, minlength=n_streams), out=bounds[1:])
    by_stream = [c[order] for c in columns]
    return {"overall": group(columns),
            "streams": {name: group([c[bounds[s]:bounds[s + 1]] for c in by_stream])
                        for s, name in enumerate(stream_names)}}
