"""Diurnal ramp: a Poisson process whose rate follows a sinusoidal day cycle.

``rate(t) = rate_rps * (1 + amplitude * sin(2 pi t / period - pi/2 + phase))``: the
stream starts at its trough (``phase_deg = 0``), ramps to the peak at half a period and
back; over whole periods the mean is ``rate_rps``.  Sampled by thinning (Lewis & Shedler
1979) a Poisson process at the peak rate.
"""

from __future__ import annotations

import numpy as np

from dse.common.limits import MAX_TIME_MS, MIN_DURATION_MS
from workloads.arrivals._base import ArrivalParam, ArrivalProcess, poisson_times


def rate_at(t_ms, rate_per_ms, p):
    w = 2.0 * np.pi / (p["period_s"] * 1000.0)
    return rate_per_ms * (1.0 + p["amplitude"] * np.sin(w * t_ms - np.pi / 2
                                                        + np.deg2rad(p["phase_deg"])))


def _sample(rng: np.random.Generator, rate_per_ms, horizon_ms, p):
    peak = rate_per_ms * (1.0 + p["amplitude"])
    g_cand, g_keep = rng.spawn(2)
    cand = poisson_times(g_cand, peak, horizon_ms)
    keep = g_keep.random(cand.size) * peak < rate_at(cand, rate_per_ms, p)
    return cand[keep]


PROCESS = ArrivalProcess(
    name="diurnal",
    doc="Poisson arrivals with a sinusoidal rate (period_s, amplitude, phase_deg) "
        "starting at the trough; mean over whole periods = rate_rps.",
    params={
        "period_s": ArrivalParam("period_s", "float", 60.0,
                                 "length of one (compressed) day (s)",
                                 low=MIN_DURATION_MS / 1e3, high=MAX_TIME_MS / 1e3),
        "amplitude": ArrivalParam("amplitude", "float", 0.8,
                                  "relative swing of the rate around its mean", low=0.0,
                                  high=1.0),
        "phase_deg": ArrivalParam("phase_deg", "float", 0.0,
                                  "phase offset (degrees; 0 starts at the trough)"),
    },
    sample=_sample,
)
