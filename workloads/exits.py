"""Exit behaviour: which exit each request leaves at, and how likely its answer is right.

Two modes, both driven by one uniform draw ``u`` per request (common random numbers):

* **fixed profile** -- exits are independent of the sample: exit ``e`` with probability
  ``profile[e]`` (inverse CDF of ``u``); accuracy = the exit's accuracy ``a_e``.
* **difficulty model** (our reconstruction; the papers do not specify one) -- ``u`` is
  the request's difficulty ``d`` (its quantile among all inputs).  Exit ``e``'s confidence
  on it is ``c_e(d) = sigmoid(k (q_e - d))``, a calibrated probability of being right,
  with slope ``k`` and midpoint ``q_e`` solved so that the mean over all inputs equals
  ``a_e``.  The request leaves at the first exit with ``c_e(d) >= tau_e`` (the last exit
  always accepts) and is right with probability ``c_exit(d)``.  Lower thresholds -> earlier
  exits, less compute, lower accuracy.  :func:`default_thresholds` gives the thresholds
  that reproduce a given exit profile.
"""

from __future__ import annotations

import numpy as np

from dse.common import InputError

DEFAULT_SLOPE = 10.0


def _softplus(x):
    return np.logaddexp(0.0, x)


def mean_confidence(q: float, slope: float) -> float:
    """Mean over ``d ~ U(0, 1)`` of ``sigmoid(slope * (q - d))``."""
    return float((_softplus(slope * q) - _softplus(slope * (q - 1.0))) / slope)


def midpoints(accuracy, slope: float = DEFAULT_SLOPE) -> np.ndarray:
    """``q_e`` such that the mean confidence of exit ``e`` equals ``accuracy[e]``."""
    out = np.empty(len(accuracy))
    for e, a in enumerate(accuracy):
        a = min(max(float(a), 1e-6), 1 - 1e-6)
        lo, hi = -50.0 / slope - 1.0, 1.0 + 50.0 / slope
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mean_confidence(mid, slope) < a else (lo, mid)
        out[e] = 0.5 * (lo + hi)
    return out


def default_thresholds(profile, accuracy, slope: float = DEFAULT_SLOPE) -> tuple[float, ...]:
    """Thresholds (one per exit but the last) under which the difficulty model reproduces
    ``profile``: exit ``e`` takes difficulties up to ``cumsum(profile)[e]``."""
    q = midpoints(accuracy, slope)
    cut = np.cumsum(profile)[:-1]
    return tuple(float(t) for t in 1.0 / (1.0 + np.exp(-slope * (q[:-1] - cut))))


def fixed_exits(u: np.ndarray, profile, accuracy) -> tuple[np.ndarray, np.ndarray]:
    """(exit int32[n], accuracy float64[n]) for uniforms ``u`` under a fixed profile."""
    cdf = np.cumsum(np.asarray(profile, dtype=np.float64))
    exits = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
    return exits.astype(np.int32), np.asarray(accuracy, dtype=np.float64)[exits]


def difficulty_exits(d: np.ndarray, accuracy, thresholds,
                     slope: float = DEFAULT_SLOPE) -> tuple[np.ndarray, np.ndarray]:
    """(exit int32[n], probability correct float64[n]) for difficulties ``d``.

    ``c_e(d) >= tau_e`` is ``d <= q_e - logit(tau_e) / slope``, so each exit is a cut on
    the difficulty; memory stays O(n) however many exits the model has.
    """
    d = np.asarray(d, dtype=np.float64)
    q = midpoints(accuracy, slope)
    tau = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(divide="ignore"):
        cut = q[:-1] - (np.log(tau) - np.log1p(-tau)) / slope    # tau 0 -> +inf, 1 -> -inf
    exits = np.full(d.size, q.size - 1, dtype=np.int32)
    for e in range(q.size - 2, -1, -1):
        exits[d <= cut[e]] = e
    return exits, 1.0 / (1.0 + np.exp(-slope * (q[exits] - d)))


def check_thresholds(thresholds, n_exits: int, *, source, field) -> tuple[float, ...]:
    if not isinstance(thresholds, list | tuple) or len(thresholds) != n_exits - 1:
        raise InputError(f"expected {n_exits - 1} thresholds (one per exit but the last), "
                         f"got {thresholds!r}", source=source, field=field)
    out = []
    for i, t in enumerate(thresholds):
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
            raise InputError(f"threshold {t!r} is not a confidence in [0, 1]", source=source,
                             field=f"{field}[{i}]")
        out.append(float(t))
    return tuple(out)
