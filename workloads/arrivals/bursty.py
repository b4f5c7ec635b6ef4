"""Bursty arrivals: a two-state Markov-modulated Poisson process (on/off MMPP).

The stream alternates between an "on" (burst) and an "off" (base) state with
exponentially distributed sojourns of means ``mean_on_ms`` and ``mean_off_ms``; it emits
Poisson arrivals at rate ``peak_to_base * b`` while on and ``b`` while off, with ``b``
chosen so the long-run mean rate is the stream's ``rate_rps``.  The initial state is
drawn from the stationary distribution, so the process is stationary from t = 0.

Index of dispersion of counts in a window of length t (Fischer & Meier-Hellstern, 1993):
``IDC(t) = 1 + 2 (l1-l0)^2 a b / ((a+b)^3 m) * (1 - (1 - exp(-(a+b) t)) / ((a+b) t))``
with ``a = 1/mean_on``, ``b = 1/mean_off``, ``m`` the mean rate: see :func:`idc`.
"""

from __future__ import annotations

import numpy as np

from dse.common.limits import MAX_TIME_MS, MIN_DURATION_MS
from workloads.arrivals._base import ArrivalParam, ArrivalProcess, seq_cumsum


def rates(rate_per_ms: float, p: dict) -> tuple[float, float]:
    """(on-state, off-state) arrival rates per ms giving mean ``rate_per_ms``."""
    on, off, ratio = p["mean_on_ms"], p["mean_off_ms"], p["peak_to_base"]
    base = rate_per_ms * (on + off) / (ratio * on + off)
    return ratio * base, base


def idc(rate_per_ms: float, p: dict, window_ms: float) -> float:
    """Index of dispersion (variance / mean) of the count in a window of ``window_ms``."""
    l_on, l_off = rates(rate_per_ms, p)
    a, b = 1.0 / p["mean_on_ms"], 1.0 / p["mean_off_ms"]
    s = a + b
    shape = 1.0 - (1.0 - np.exp(-s * window_ms)) / (s * window_ms)
    return 1.0 + 2.0 * (l_on - l_off) ** 2 * a * b / (s ** 3 * rate_per_ms) * shape


def _sample(rng: np.random.Generator, rate_per_ms, horizon_ms, p):
    l_on, l_off = rates(rate_per_ms, p)
    on, off = p["mean_on_ms"], p["mean_off_ms"]
    g_state, g_dur, g_count, g_pos = rng.spawn(4)
    first_on = g_state.random() < on / (on + off)
    mean = np.array([on, off] if first_on else [off, on])
    lam = np.array([l_on, l_off] if first_on else [l_off, l_on])
    pieces, t = [], 0.0
    while t < horizon_ms:
        k = 2 * (int((horizon_ms - t) / (on + off) * 1.2) + 8)   # sojourns in this chunk
        dur = g_dur.standard_exponential(k) * np.tile(mean, k // 2)
        ends = seq_cumsum(t, dur)
        counts = g_count.poisson(np.tile(lam, k // 2) * dur)
        offs = g_pos.random(int(counts.sum())) * np.repeat(dur, counts)
        pieces.append(np.repeat(ends - dur, counts) + offs)
        t = float(ends[-1])
    times = np.sort(np.concatenate(pieces))
    return times[: np.searchsorted(times, horizon_ms, side="left")]


PROCESS = ArrivalProcess(
    name="bursty",
    doc="On/off Markov-modulated Poisson process: bursts at peak_to_base times the base "
        "rate, exponential on/off durations; mean rate = rate_rps.",
    params={
        "peak_to_base": ArrivalParam("peak_to_base", "float", 10.0,
                                     "arrival rate in a burst / rate between bursts",
                                     low=1.0, high=1e6),
        "mean_on_ms": ArrivalParam("mean_on_ms", "float", 200.0,
                                   "mean burst duration (ms)", low=MIN_DURATION_MS,
                                   high=MAX_TIME_MS),
        "mean_off_ms": ArrivalParam("mean_off_ms", "float", 800.0,
                                    "mean time between bursts (ms)",
                                    low=MIN_DURATION_MS, high=MAX_TIME_MS),
    },
    sample=_sample,
)
