"""Provenance of the zoo's numbers, the threshold-sweep fit, and shifted exit profiles."""

import numpy as np
import pytest

from dse.common import InputError
from workloads import get_model, list_models, load_scenario
from workloads.exits import (
    curve_accuracy,
    default_thresholds,
    difficulty_exits,
    fit_difficulty,
    midpoints,
    no_exit_profile,
    shift_profile,
)
from workloads.zoo import threshold_fit, zoo_data
from workloads.zoo._provenance import KINDS, expand, fit_sweep, numeric_fields


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_number_has_a_citation_or_an_assumed_reason(name):
    # Acceptance: walk every value of the entry; each number (list element or scalar) and
    # each exit position has exactly one record, with a citation (published, mapped,
    # fitted; mapped also says how) or an "assumed" mark with a reason.
    entry, model = zoo_data()[name], get_model(name)
    prov = model.provenance
    fields = {"exits": model.n_exits, **numeric_fields(entry)}
    assert set(prov) == set(fields)
    for key, count in fields.items():
        assert len(prov[key]) == (count or 1), key
        for rec in prov[key]:
            assert rec["kind"] in KINDS
            text = rec["reason"] if rec["kind"] == "assumed" else rec["cite"]
            assert isinstance(text, str) and len(text) > 20, (key, rec)
            if rec["kind"] == "mapped":
                assert rec["mapping"].strip()
    # the walked fields hold numbers only (text lives in source and provenance records)
    for key in numeric_fields(entry):
        assert all(isinstance(x, int | float) and not isinstance(x, bool)
                   for x in _leaves(entry[key])), key


def _leaves(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


@pytest.mark.parametrize("broken, message", [
    ({"provenance": {}}, "no provenance"),
    ({"provenance": {"exits": [{"kind": "assumed", "reason": "x"}],
                     "exit_profile": [{"kind": "published", "items": [0]}]}}, "needs a non-empty 'cite'"),
    ({"provenance": {"exits": [{"kind": "assumed", "reason": "x"}],
                     "exit_profile": [{"kind": "mapped", "cite": "paper"}]}}, "'mapping'"),
    ({"provenance": {"exits": [{"kind": "guessed", "reason": "x"}]}}, "unknown kind"),
    ({"provenance": {"exits": [{"kind": "assumed", "reason": "x"},
                               {"kind": "assumed", "reason": "y", "items": [0]}]}},
     "covered twice"),
])
def test_missing_or_incomplete_provenance_is_an_error(broken, message):
    entry = {"source": "s", "exit_profile": [0.5, 0.5], **broken}
    with pytest.raises(InputError, match=message) as err:
        expand("toy", entry, 2)
    assert "zoo.toml [toy]" in str(err.value) and "provenance" in str(err.value)


def test_stored_b_alexnet_fit_is_reproduced_from_the_published_sweep():
    # zoo.toml's exit_accuracy and confidence_slope of b_alexnet are the output of the fit
    # (rounded to 4 and 3 decimals); refitting the published sweep gives them back.
    entry = zoo_data()["b_alexnet"]
    acc, slope = fit_sweep(entry["threshold_sweep"])
    assert np.round(acc, 4).tolist() == entry["exit_accuracy"]
    assert round(slope, 3) == entry["confidence_slope"]
    report = threshold_fit("b_alexnet")
    # docs/workloads.md quotes these: 91 distinct points, RMS 0.62 pp, worst 1.47 pp
    assert report["distinct_points"] == 91
    assert report["rms_pp"] < 0.7 and report["max_abs_pp"] < 1.6
    # every sample leaving at exit 1 (T1 = 10) measured 75.29 %; the fit's exit 1 is close
    assert acc[0] == pytest.approx(0.7529, abs=0.01)
    assert threshold_fit("resnet50") is None


def test_fit_recovers_known_parameters():
    # Synthetic sweep from the model itself: the fit must return the generating values.
    rng = np.random.default_rng(3)
    true_acc, true_slope = np.array([0.55, 0.7, 0.8]), 7.0
    cuts = np.sort(rng.random((40, 2)), axis=1)
    shares = np.diff(np.column_stack([np.zeros(40), cuts, np.ones(40)]), axis=1)
    acc = curve_accuracy(shares, midpoints(true_acc, true_slope), true_slope)
    fit_acc, fit_slope, resid = fit_difficulty(shares, acc)
    assert fit_acc == pytest.approx(true_acc, abs=1e-5)
    assert fit_slope == pytest.approx(true_slope, rel=1e-4)
    assert np.abs(resid).max() < 1e-7


def test_curve_accuracy_matches_a_monte_carlo_of_the_exit_rule():
    m = get_model("b_alexnet")
    profile = [0.5, 0.3, 0.2]
    th = default_thresholds(profile, m.exit_accuracy, m.confidence_slope)
    u = (np.arange(200_000) + 0.5) / 200_000
    _, p_right = difficulty_exits(u, m.exit_accuracy, th, m.confidence_slope)
    model = curve_accuracy(profile, midpoints(m.exit_accuracy, m.confidence_slope),
                           m.confidence_slope)[0]
    assert p_right.mean() == pytest.approx(model, abs=1e-6)


def test_shift_profile_family():
    p = (0.4, 0.3, 0.2, 0.1)
    assert shift_profile(p, 0.0) == pytest.approx(p)
    assert shift_profile(p, 1.0) == no_exit_profile(4) == (0.0, 0.0, 0.0, 1.0)
    assert shift_profile(p, -1.0) == pytest.approx((1.0, 0.0, 0.0, 0.0))
    depth = [np.dot(shift_profile(p, s), range(4)) for s in np.linspace(-1, 1, 21)]
    assert all(a < b for a, b in zip(depth, depth[1:], strict=False))   # monotone
    later = np.cumsum(shift_profile(p, 0.5))[:-1]
    assert later == pytest.approx(0.5 * np.cumsum(p)[:-1])
    for s in np.linspace(-1, 1, 9):
        q = shift_profile(p, s)
        assert min(q) >= 0 and sum(q) == pytest.approx(1.0)
    with pytest.raises(InputError, match="exit_shift"):
        shift_profile(p, 1.5)


def test_model_and_scenario_exit_shift(tmp_path):
    m = get_model("resnet50")
    assert m.with_exit_shift(1.0).exit_profile == no_exit_profile(4)
    assert "exit_profile" not in m.with_exit_shift(0.2).provenance
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\n[[scenario.streams]]\nname = "cam"\nmodel = "resnet50"\n'
                    'rate_rps = 50\nslo_ms = 100\n')
    sc = load_scenario(str(path))
    shifted = sc.with_exit_shift(1.0)
    assert shifted.streams[0].exit_profile == no_exit_profile(4)
    assert (shifted.trace(2000, 0).exit == 3).all()
    base, later = sc.trace(5000, 0).exit, sc.with_exit_shift(0.3).trace(5000, 0).exit
    assert (later >= base).all() and later.mean() > base.mean()   # same draws, later exits
    th = sc.replace_stream("cam", exit_thresholds=[0.9, 0.8, 0.7])
    with pytest.raises(InputError, match="exit_thresholds"):
        th.with_exit_shift(0.5)


def test_stream_uses_the_model_fitted_slope_unless_it_sets_one(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[scenario]\n[[scenario.streams]]\nname = "cam"\nmodel = "b_alexnet"\n'
                    'rate_rps = 50\nslo_ms = 100\nexit_mode = "difficulty"\n')
    sc = load_scenario(str(path))
    assert sc.streams[0].confidence_slope is None
    tr = sc.trace(20_000, 1)
    # default thresholds reproduce the published profile under the model's own slope
    assert tr.exit_shares(0) == pytest.approx(get_model("b_alexnet").exit_profile, abs=0.01)
    own = sc.replace_stream("cam", confidence_slope=20.0)
    assert own.streams[0].confidence_slope == 20.0
    assert not np.array_equal(own.trace(20_000, 1).accuracy, tr.accuracy)
