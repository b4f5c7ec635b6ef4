"""Confidence intervals without SciPy: Student-t for means, Clopper-Pearson with an
effective sample size (Korn-Graubard) for proportions, paired bootstrap for ratios.

The t CDF comes from the regularized incomplete beta function,
``P(T <= t) = 1 - I_x(df/2, 1/2) / 2`` for ``t >= 0`` with ``x = df / (df + t^2)``
(Abramowitz & Stegun 26.7.1), evaluated with its continued fraction (A&S 26.5.8) by the
modified Lentz method; the quantile is found by bisection to machine precision.
"""

from __future__ import annotations

import math

import numpy as np


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (0 < p < 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(samples, level: float = 0.95, bounds: tuple[float, float] | None = None
            ) -> tuple[float, float, float]:
    """Sample mean and the two-sided ``level`` t confidence interval ``(mean, lo, hi)``.

    Half-width = t_{(1+level)/2, n-1} * s / sqrt(n), with s the sample standard deviation
    (ddof=1).  With one sample the interval is undefined: ``(x, nan, nan)``.  ``bounds``
    clips the interval to the metric's range (a share: ``(0, 1)``; a difference of shares:
    ``(-1, 1)``).
    """
    x = np.asarray(samples, dtype=np.float64)
    n = len(x)
    mean = float(np.mean(x)) if n else math.nan
    if n < 2 or not np.all(np.isfinite(x)):
        return mean, math.nan, math.nan
    half = t_quantile(0.5 + level / 2.0, n - 1) * float(np.std(x, ddof=1)) / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, float(bounds[0])), min(hi, float(bounds[1]))
    return mean, lo, hi


def ratio_ci(num, den, level: float = 0.95, n_boot: int = 4000, seed: int = 0
             ) -> tuple[float, float, float]:
    """``mean(num) / mean(den)`` and its paired percentile-bootstrap ``level`` interval
    (Efron & Tibshirani 1993, ch. 13): the pairs ``(num[i], den[i])`` (one per seed) are
    resampled together ``n_boot`` times with a fixed ``seed``.  A zero denominator gives
    ``inf`` (or ``nan`` when the numerator is zero too); fewer than two pairs give no
    interval."""
    a = np.asarray(num, dtype=np.float64)
    b = np.asarray(den, dtype=np.float64)

    def ratio(x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, x / np.where(y > 0, y, 1.0),
                            np.where(x > 0, np.inf, np.nan))

    point = float(ratio(a.mean(), b.mean())) if a.size else math.nan
    if a.size < 2:
        return point, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, a.size, size=(n_boot, a.size))
    boot = ratio(a[idx].mean(axis=1), b[idx].mean(axis=1))
    boot = np.where(np.isnan(boot), 1.0, boot)  # 0 / 0: no difference
    lo = np.quantile(boot, 0.5 - level / 2.0, method="lower")  # no interpolation with inf
    hi = np.quantile(boot, 0.5 + level / 2.0, method="higher")
    return point, float(lo), float(hi)


def beta_quantile(p: float, a: float, b: float) -> float:
    """The ``p`` quantile of the Beta(a, b) distribution (bisection on ``betainc``)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if betainc(a, b, mid) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15:
            break
    return 0.5 * (lo + hi)


def proportion_ci(samples, n_total: float, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of K per-trace proportions and its ``level`` confidence interval, in [0, 1].

    Clopper-Pearson with an effective sample size (Korn & Graubard, "Confidence intervals
    for proportions with small expected number of positive counts estimated from survey
    data", Survey Methodology 24(2), 1998): requests of one trace are correlated (they
    share queues), so the binomial count is not the information; the traces are the
    independent units.  With ``p`` the mean and ``v = s^2 / K`` its variance over the K
    traces, ``n_eff = p (1 - p) / v`` scaled by ``(z / t_{K-1})^2`` for the degrees of
    freedom, at most ``n_total`` (the measured requests); when the traces agree exactly
    (``v = 0``, e.g. every trace at 1.0) ``n_eff = n_total``.  Then, with ``x = p n_eff``,
    ``lo = Beta_{a/2}(x, n_eff - x + 1)`` and ``hi = Beta_{1-a/2}(x + 1, n_eff - x)``
    (``lo = 0`` when ``x = 0``, ``hi = 1`` when ``x = n_eff``).  With K < 2 the interval
    is undefined: ``(p, nan, nan)``.
    """
    from statistics import NormalDist

    x = np.asarray(samples, dtype=np.float64)
    k = len(x)
    p = float(np.mean(x)) if k else math.nan
    if k < 2 or not np.all(np.isfinite(x)) or not n_total > 0:
        return p, math.nan, math.nan
    p = min(1.0, max(0.0, p))
    alpha = 1.0 - level
    var = float(np.var(x, ddof=1)) / k
    n_eff = float(n_total)
    if var > 0 and 0 < p < 1:
        z = NormalDist().inv_cdf(1 - alpha / 2)
        n_eff = min(n_eff, p * (1 - p) / var * (z / t_quantile(1 - alpha / 2, k - 1)) ** 2)
    s = p * n_eff
    lo = 0.0 if s <= 0 else beta_quantile(alpha / 2, s, n_eff - s + 1)
    hi = 1.0 if s >= n_eff else beta_quantile(1 - alpha / 2, s + 1, n_eff - s)
    return p, lo, hi
