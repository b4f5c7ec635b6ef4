"""Paper-style SLO satisfaction over a sweep of loads x SLO targets (Fluid Batching,
Kouris et al., arXiv 2209.13443): the share of sweep points whose mean (average-latency
satisfaction) or p95 (tail-latency satisfaction) latency meets the SLO.  The sweep itself
runs in :func:`dse.evaluation.satisfaction_sweep`.
"""

from __future__ import annotations

import math

from dse.metrics._registry import Metric

#: Default sweep: load factors on every stream's rate ...
SATISFACTION_LOADS = (0.5, 0.75, 1.0, 1.25)
#: ... times SLO targets, as multiples of each stream model's isolated batch-1 latency.
SATISFACTION_SLO_X = (2.0, 4.0, 6.0, 8.0, 10.0)

METRICS = (
    Metric("avg_slo_satisfaction",
           "share of (load, SLO) points whose mean latency meets the SLO",
           lambda sweep: float(sweep["average"]), source="sweep"),
    Metric("tail_slo_satisfaction",
           "share of (load, SLO) points whose p95 latency meets the SLO",
           lambda sweep: float(sweep["tail"]), source="sweep"),
)


def slo_satisfaction(mean_ms, p95_ms, slo_ms, unstable=None) -> dict:
    """Paper-style average- and tail-latency SLO satisfaction over a sweep.

    Each sweep point is one simulation (one load level x one SLO target).  ``mean_ms``
    and ``p95_ms`` are shaped ``[points, streams]`` (mean and p95 latency of each stream,
    ms), ``slo_ms`` the same shape (each stream's SLO at that point), ``unstable``
    ``[points]``.  A point satisfies the average-latency SLO when every stream's mean
    latency is <= its SLO and the run is stable; likewise the tail-latency SLO with p95.
    Returns ``{"average": share, "tail": share, "points": count}`` (shares in 0..1).
    """
    import numpy as np

    mean_ms = np.atleast_2d(np.asarray(mean_ms, dtype=np.float64))
    p95_ms = np.atleast_2d(np.asarray(p95_ms, dtype=np.float64))
    slo_ms = np.broadcast_to(np.asarray(slo_ms, dtype=np.float64), mean_ms.shape)
    if mean_ms.shape != p95_ms.shape:
        raise ValueError("mean_ms and p95_ms must have the same shape")
    stable = (np.ones(mean_ms.shape[0], bool) if unstable is None
              else ~np.asarray(unstable, dtype=bool))
    # NaN latencies (nothing completed) compare False: not satisfied
    avg = np.all(mean_ms <= slo_ms, axis=1) & stable
    tail = np.all(p95_ms <= slo_ms, axis=1) & stable
    points = mean_ms.shape[0]
    return {"average": float(avg.mean()) if points else math.nan,
            "tail": float(tail.mean()) if points else math.nan, "points": int(points)}
