"""Confidence intervals of `dse evaluate --seeds K`: Clopper-Pearson with an effective
sample size for proportions (inside [0, 1]), Student-t otherwise; checked against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dse.metrics.stats import beta_quantile, mean_ci, proportion_ci


@pytest.mark.parametrize("k, n", [(0, 10), (7, 20), (20, 20), (93, 100)])
def test_beta_quantiles_give_scipy_clopper_pearson(k, n):
    """Clopper-Pearson limits are beta quantiles (SciPy's binomtest 'exact' interval)."""
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo = 0.0 if k == 0 else beta_quantile(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta_quantile(0.975, k + 1, n - k)
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_identical_traces_give_the_exact_binomial_interval():
    """Every trace at 1.0: n successes in n trials, [0.025^(1/n), 1]."""
    mean, lo, hi = proportion_ci([1.0] * 5, 18000)
    assert mean == 1.0 and hi == 1.0
    assert lo == pytest.approx(0.025 ** (1 / 18000), rel=1e-12)


def test_effective_sample_size_korn_graubard():
    """n_eff = p(1-p)/v (z/t)^2, then Clopper-Pearson at x = p n_eff (Korn & Graubard
    1998), computed here with SciPy's beta quantiles."""
    samples = [0.62, 0.71, 0.55, 0.68, 0.66]
    k = len(samples)
    p = float(np.mean(samples))
    v = float(np.var(samples, ddof=1)) / k
    n_eff = p * (1 - p) / v * (stats.norm.ppf(0.975) / stats.t.ppf(0.975, k - 1)) ** 2
    x = p * n_eff
    want = (stats.beta.ppf(0.025, x, n_eff - x + 1), stats.beta.ppf(0.975, x + 1, n_eff - x))
    mean, lo, hi = proportion_ci(samples, 20000)
    assert mean == pytest.approx(p) and (lo, hi) == pytest.approx(want, rel=1e-9)
    # capped by the measured requests: a tiny n gives a wider interval
    assert proportion_ci(samples, 10)[1] < lo


def test_proportion_interval_never_leaves_unit_interval():
    """The Student-t interval on these runs reached above 1 (the bug); this one cannot."""
    samples = [1.0, 0.99995, 1.0, 1.0, 0.99992]
    _, t_lo, t_hi = mean_ci(samples)
    assert t_hi > 1.0
    _, lo, hi = proportion_ci(samples, 20000)
    assert 0.0 <= lo <= hi <= 1.0
    _, lo, hi = proportion_ci([0.0, 0.0, 0.0001], 20000)
    assert 0.0 <= lo < 1e-6 and 0 < hi < 1


def test_t_interval_for_other_metrics():
    """K = 2, s = sqrt(2): half-width t(0.975, 1) = 12.7062 (printed t tables)."""
    mean, lo, hi = mean_ci([10.0, 12.0])
    assert (mean, lo, hi) == pytest.approx((11.0, 11 - 12.7062047, 11 + 12.7062047))
