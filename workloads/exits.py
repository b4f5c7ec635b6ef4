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
  that reproduce a given exit profile; :func:`fit_difficulty` fits the slope and the
  per-exit accuracies to a published accuracy-versus-exit-share curve.

Perturbed profiles for sensitivity studies: :func:`shift_profile` moves exits earlier or
later along one parameter, :func:`no_exit_profile` sends every request to the last exit.
"""

from __future__ import annotations

import functools

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
    return np.array(_midpoints(tuple(float(a) for a in accuracy), float(slope)))


@functools.lru_cache(maxsize=256)
def _midpoints(accuracy: tuple[float, ...], slope: float) -> tuple[float, ...]:
    """:func:`midpoints` by bisection (200 halvings per exit), memoised: every trace and
    threshold profile of a sweep or a reproduction asks again for the same few models."""
    out = []
    for a in accuracy:
        a = min(max(a, 1e-6), 1 - 1e-6)
        lo, hi = -50.0 / slope - 1.0, 1.0 + 50.0 / slope
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mean_confidence(mid, slope) < a else (lo, mid)
        out.append(0.5 * (lo + hi))
    return tuple(out)


def default_thresholds(profile, accuracy, slope: float = DEFAULT_SLOPE) -> tuple[float, ...]:
    """Thresholds (one per exit but the last) under which the difficulty model reproduces
    ``profile``: exit ``e`` takes difficulties up to ``cumsum(profile)[e]``."""
    q = midpoints(accuracy, slope)
    cut = np.cumsum(profile)[:-1]
    return tuple(float(t) for t in 1.0 / (1.0 + np.exp(-slope * (q[:-1] - cut))))


def curve_accuracy(shares, q, slope: float) -> np.ndarray:
    """Mean accuracy of the difficulty model when exit ``e`` takes the share ``shares[..., e]``
    of the inputs (the easiest first): exit ``e`` serves difficulties
    ``(x_{e-1}, x_e]`` with ``x = cumsum(shares)``, so the mean is
    ``sum_e (softplus(k (q_e - x_{e-1})) - softplus(k (q_e - x_e))) / k``."""
    shares = np.atleast_2d(np.asarray(shares, dtype=np.float64))
    hi = np.minimum(np.cumsum(shares, axis=1), 1.0)
    lo = np.concatenate([np.zeros((hi.shape[0], 1)), hi[:, :-1]], axis=1)
    q = np.asarray(q, dtype=np.float64)
    return ((_softplus(slope * (q - lo)) - _softplus(slope * (q - hi))) / slope).sum(axis=1)


def fit_difficulty(shares, accuracy, *, slope0: float = DEFAULT_SLOPE,
                   iterations: int = 200) -> tuple[np.ndarray, float, np.ndarray]:
    """Least-squares fit of the difficulty model to measured operating points.

    ``shares`` float[N, E]: the share of inputs leaving at each exit at N threshold
    settings; ``accuracy`` float[N]: the overall accuracy (fraction) at each.  Fits the
    midpoints ``q_e`` and the slope ``k`` by Levenberg-Marquardt on
    ``curve_accuracy(shares, q, k) - accuracy`` (``k`` through ``log k``, so it stays
    positive).  Returns ``(exit_accuracy[E], slope, residuals[N])`` where
    ``exit_accuracy[e] = mean_confidence(q_e, k)``: the parameters a model stores.
    """
    shares = np.atleast_2d(np.asarray(shares, dtype=np.float64))
    acc = np.asarray(accuracy, dtype=np.float64)
    n_exits = shares.shape[1]
    start = np.append(midpoints(np.full(n_exits, acc.mean()), slope0), np.log(slope0))

    def residuals(p):
        return curve_accuracy(shares, p[:-1], float(np.exp(p[-1]))) - acc

    p, damping = start, 1e-3
    r = residuals(p)
    for _ in range(iterations):
        jac = np.empty((acc.size, p.size))
        for j in range(p.size):
            step = np.zeros_like(p)
            step[j] = 1e-7 * max(1.0, abs(p[j]))
            jac[:, j] = (residuals(p + step) - r) / step[j]
        normal = jac.T @ jac
        trial = p - np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-12),
                                    jac.T @ r)
        r_trial = residuals(trial)
        if r_trial @ r_trial < r @ r:
            converged = r @ r - r_trial @ r_trial < 1e-15 * max(r @ r, 1e-30)
            p, r, damping = trial, r_trial, damping / 3.0
            if converged:
                break
        else:
            damping *= 4.0
    slope = float(np.exp(p[-1]))
    exit_accuracy = np.array([mean_confidence(q, slope) for q in p[:-1]])
    return exit_accuracy, slope, r


def shift_profile(profile, shift: float) -> tuple[float, ...]:
    """The exit profile with exits moved later (``shift > 0``) or earlier (``shift < 0``).

    With ``F_e`` the share leaving at exit ``e`` or before, a later shift scales it,
    ``F_e' = (1 - shift) F_e``, and an earlier one fills the gap to 1,
    ``F_e' = F_e + |shift| (1 - F_e)``, for every exit but the last.  ``0`` is the
    profile itself, ``1`` the no-exit case (everything at the last exit), ``-1``
    everything at the first exit.  Each request's exit moves one way only, so the mean
    depth changes monotonically with ``shift``.
    """
    if isinstance(shift, bool) or not isinstance(shift, int | float) or not -1.0 <= shift <= 1.0:
        raise InputError(f"exit shift must be a number in [-1, 1], got {shift!r}",
                         field="exit_shift")
    cdf = np.cumsum(np.asarray(profile, dtype=np.float64))
    cdf[-1] = 1.0
    head = cdf[:-1] * (1.0 - shift) if shift >= 0 else cdf[:-1] - shift * (1.0 - cdf[:-1])
    cdf = np.append(np.clip(head, 0.0, 1.0), 1.0)
    return tuple(float(p) for p in np.diff(cdf, prepend=0.0))


def no_exit_profile(n_exits: int) -> tuple[float, ...]:
    """Every request runs to the last exit (the baseline without early exits)."""
    return (0.0,) * (n_exits - 1) + (1.0,)


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
    q, cut = _cuts(accuracy, thresholds, slope)
    exits = np.full(d.size, q.size - 1, dtype=np.int32)
    for e in range(q.size - 2, -1, -1):
        exits[d <= cut[e]] = e
    return exits, 1.0 / (1.0 + np.exp(-slope * (q[exits] - d)))


def _cuts(accuracy, thresholds, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """(midpoints q_e, difficulty cut of every exit but the last) of the difficulty model."""
    q = midpoints(accuracy, slope)
    tau = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return q, q[:-1] - (np.log(tau) - np.log1p(-tau)) / slope  # tau 0 -> +inf, 1 -> -inf


def threshold_profile(accuracy, thresholds, slope: float = DEFAULT_SLOPE) -> tuple[float, ...]:
    """The exit profile the difficulty model gives under ``thresholds``: a request of
    difficulty ``d ~ U(0, 1)`` leaves at the first exit whose cut is ``>= d``, so the share
    leaving at exit ``e`` or before is ``clip(max of the cuts up to e, 0, 1)``."""
    _, cut = _cuts(accuracy, thresholds, slope)
    cdf = np.append(np.clip(np.maximum.accumulate(cut), 0.0, 1.0), 1.0)
    return tuple(float(p) for p in np.diff(cdf, prepend=0.0))


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
