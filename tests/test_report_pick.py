"""Pick rules, Pareto mask and hypervolume on a hand-checked front (tests/test_report_support)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report_support import FRONT, make_study

from dse.common import InputError
from dse.report import pick, read_study
from dse.report._figures import hypervolume_history
from dse.report._pick import knee_index


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('pick')}/s.db"
    return read_study(make_study(url, FRONT))


def test_pareto_mask_hand(data):
    assert data.numbers[data.pareto].tolist() == [0, 1, 2, 3, 4]
    assert data.feasible.all()


def test_pareto_mask_equals_optuna_best_trials(tmp_path):
    rng = np.random.default_rng(3)
    pts = [(float(a), float(b), float(c)) for a, b, c in rng.random((60, 3))]
    study = make_study(f"sqlite:///{tmp_path}/r.db", pts,
                       metric_names=("slo_attainment", "area_mm2", "energy_uj_per_request"),
                       directions=("maximize", "minimize", "minimize"))
    data = read_study(study)
    assert sorted(data.numbers[data.pareto].tolist()) == sorted(t.number for t in
                                                                study.best_trials)


def test_knee_hand_computed(data):
    # Normalised front (0 = best): (1, 0), (1/3, 1/9), (1/5, 2/9), (1/15, 5/9), (0, 1); the
    # line between the extremes is x + y = 1; distances (1 - x - y)/sqrt2 are largest for
    # (1/5, 2/9): trial 2 (slo 0.8, area 3.0).
    assert pick(data, rule="knee").number == 2


def test_extreme_rules_and_budget(data):
    assert pick(data, rule="max-slo").number == 4
    assert pick(data, rule="min-area").number == 0
    assert pick(data, area_budget=6.5).number == 3
    assert pick(data, area_budget=2.0).number == 1
    assert pick(data, trial=5).number == 5


def test_knee_degenerate_fronts():
    # two points: closest to the ideal after normalisation -> both at distance 1: lower number
    assert knee_index(np.array([-0.9, -0.5]), np.array([5.0, 1.0]), np.array([7, 3])) == 1
    # straight line: no point strictly inside, ties broken by distance to ideal then number
    k = knee_index(np.array([0.0, -0.5, -1.0]), np.array([0.0, 0.5, 1.0]), np.array([0, 1, 2]))
    assert k == 1


def test_bad_picks(data, tmp_path):
    with pytest.raises(InputError, match="no feasible design within 0.5 mm2"):
        pick(data, area_budget=0.5)
    with pytest.raises(InputError, match="no complete trial number 99"):
        pick(data, trial=99)
    with pytest.raises(InputError, match="did you mean 'knee'"):
        pick(data, rule="kne")
    infeasible = read_study(make_study(f"sqlite:///{tmp_path}/i.db", FRONT[:3],
                                       constraints=[(1.0,), (0.5,), (2.0,)]))
    assert not infeasible.feasible.any()
    with pytest.raises(InputError, match="no feasible design"):
        pick(infeasible, rule="knee")


def test_constraints_exclude_from_front(tmp_path):
    data = read_study(make_study(f"sqlite:///{tmp_path}/c.db", FRONT,
                                 constraints=[(0,), (0,), (1.0,), (0,), (0,), (0,), (0,)]))
    assert data.feasible.tolist() == [True, True, False, True, True, True, True]
    # trial 2 infeasible: the knee moves; (0.85, 7.0) is now non-dominated
    assert data.numbers[data.pareto].tolist() == [0, 1, 3, 4]
    assert pick(data, rule="knee").number != 2


def test_hypervolume_hand_value(data):
    # normalised front above, reference 1.1: slabs summed by hand, divided by 1.1^2
    expected = (1.1 * 0.1 + (1.1 - 1 / 15) * (1 - 5 / 9) + (1.1 - 0.2) * (5 / 9 - 2 / 9)
                + (1.1 - 1 / 3) * (2 / 9 - 1 / 9) + (1.1 - 1.0) * (1 / 9)) / 1.1 ** 2
    numbers, hv = hypervolume_history(data)
    assert hv[-1] == pytest.approx(expected, rel=1e-12)
    assert np.all(np.diff(hv) >= 0)
    # dominated trials 5 and 6 add nothing
    assert hv[4] == hv[6]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 64), st.integers(1, 256)), min_size=1, max_size=30,
                unique=True),
       st.integers(-6, 6), st.integers(-5, 5))
def test_knee_is_scale_free(points, log2_scale, shift):
    """The knee depends on the shape of the front only: rescaling area or shifting the SLO
    axis (both normalised away) picks the same design.  Dyadic values keep the arithmetic
    exact, so ties stay ties."""
    slo = -np.array([p[0] / 64 for p in points])
    area = np.array([p[1] / 16 for p in points])
    numbers = np.arange(len(points))
    k = knee_index(slo, area, numbers)
    assert 0 <= k < len(points)
    assert knee_index(slo + shift, area * 2.0 ** log2_scale, numbers) == k
