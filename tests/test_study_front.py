"""Pareto masks and the normalised hypervolume used by progress, status and benchmarks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dse.search._front import REF, bounds_for, hypervolume, minimised, pareto_mask


def _brute_front(p):
    n = len(p)
    return np.array([not any(np.all(p[j] <= p[i]) and np.any(p[j] < p[i])
                             for j in range(n)) for i in range(n)])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 25), st.integers(2, 3)),
              elements=st.integers(0, 5).map(float)))
def test_pareto_mask_matches_definition(points):
    assert np.array_equal(pareto_mask(points), _brute_front(points))


def test_hypervolume_two_points_by_hand():
    # Normalised points (0,1) and (1,0), reference (1.1,1.1): two 1.1x0.1 strips that
    # overlap in a 0.1x0.1 square -> 0.21, divided by the box 1.1^2 = 1.21.
    pts = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert np.isclose(hypervolume(pts, np.zeros(2), np.ones(2)), 0.21 / 1.21)


def test_hypervolume_ideal_point_fills_box_and_far_points_count_zero():
    assert np.isclose(hypervolume(np.array([[0.0, 0.0]]), np.zeros(2), np.ones(2)), 1.0)
    assert hypervolume(np.array([[2.0, 2.0]]), np.zeros(2), np.ones(2)) == 0.0


def test_hypervolume_three_objectives_by_hand():
    # one point at 0.5 in every objective: (1.1-0.5)^3 / 1.1^3
    pts = np.array([[0.5, 0.5, 0.5]])
    assert np.isclose(hypervolume(pts, np.zeros(3), np.ones(3)), 0.6 ** 3 / REF ** 3)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 15), st.just(2)),
              elements=st.floats(0, 1)), arrays(np.float64, (2,), elements=st.floats(0, 1)))
def test_adding_a_point_never_lowers_hypervolume(points, extra):
    lo, hi = np.zeros(2), np.ones(2)
    a = hypervolume(points, lo, hi)
    b = hypervolume(np.vstack([points, extra]), lo, hi)
    assert b >= a - 1e-12 and 0.0 <= a <= 1.0 + 1e-12


def test_bounds_are_the_observed_range_in_minimisation_space():
    values = np.array([[0.9, 2.0], [0.5, 1.0], [0.7, 1.5]])
    pts = minimised(values, ["maximize", "minimize"])
    lo, hi = bounds_for(["slo_attainment", "area_mm2"], ["maximize", "minimize"], pts)
    assert np.allclose(lo, [-0.9, 1.0]) and np.allclose(hi, [-0.5, 2.0])
    lo, hi = bounds_for(["a"], ["minimize"], np.array([[3.0]]))  # zero range widened
    assert lo[0] == 3.0 and hi[0] == 6.0
