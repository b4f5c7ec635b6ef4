"""Periodic sensor stream: one request every ``1 / rate`` with Gaussian jitter.

Request k arrives at ``phase + k / rate + N(0, jitter_ms^2)`` (clipped to the window),
with the phase uniform in one period: many sensors then interleave rather than align.
"""

from __future__ import annotations

import numpy as np

from dse.common.limits import MAX_TIME_MS
from workloads.arrivals._base import ArrivalParam, ArrivalProcess


def _sample(rng: np.random.Generator, rate_per_ms, horizon_ms, p):
    period = 1.0 / rate_per_ms
    phase = rng.random() * period
    n = int(np.ceil((horizon_ms - phase) / period)) if horizon_ms > phase else 0
    times = phase + np.arange(n) * period
    if p["jitter_ms"] > 0.0:
        times = times + rng.normal(0.0, p["jitter_ms"], n)
    times = np.sort(times, kind="stable")   # nearly sorted: timsort
    return times[(times >= 0.0) & (times < horizon_ms)]


PROCESS = ArrivalProcess(
    name="periodic",
    doc="One request per period 1/rate_rps with Gaussian jitter (jitter_ms) and a "
        "random phase: a camera or sensor stream.",
    params={
        "jitter_ms": ArrivalParam("jitter_ms", "float", 1.0,
                                  "standard deviation of each arrival's jitter (ms)", low=0.0,
                                  high=MAX_TIME_MS),
    },
    sample=_sample,
)
