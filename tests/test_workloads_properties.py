"""Property tests (hypothesis) of the exit models and scenario round trips."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads import Scenario
from workloads.exits import default_thresholds, difficulty_exits, fixed_exits

U = np.random.default_rng(0).random(2000)


@st.composite
def exit_setup(draw):
    n = draw(st.integers(2, 6))
    acc = sorted(draw(st.lists(st.floats(0.05, 0.99), min_size=n, max_size=n)))
    th = draw(st.lists(st.floats(0.0, 1.0), min_size=n - 1, max_size=n - 1))
    return acc, th


@settings(max_examples=60, deadline=None)
@given(exit_setup(), st.floats(0.0, 0.5))
def test_lower_thresholds_never_exit_later(setup, drop):
    acc, th = setup
    e_hi, p_hi = difficulty_exits(U, acc, th)
    e_lo, p_lo = difficulty_exits(U, acc, [max(t - drop, 0.0) for t in th])
    assert np.all(e_lo <= e_hi)
    assert np.all((0 <= e_hi) & (e_hi < len(acc)))
    assert np.all((p_hi >= 0) & (p_hi <= 1))
    # a request that leaves early does so with confidence at least its threshold
    early = e_hi < len(acc) - 1
    assert np.all(p_hi[early] >= np.asarray(th)[e_hi[early]] - 1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6).filter(lambda p: sum(p) > 0.1))
def test_profiles_map_uniforms_to_their_shares(raw):
    profile = np.asarray(raw) / np.sum(raw)
    acc = np.linspace(0.5, 0.9, profile.size)
    grid = (np.arange(10_000) + 0.5) / 10_000       # evenly spread uniforms
    exits, a = fixed_exits(grid, profile, acc)
    shares = np.bincount(exits, minlength=profile.size) / grid.size
    assert np.allclose(shares, profile, atol=2e-4)
    assert np.array_equal(a, acc[exits])
    # the difficulty model with its default thresholds gives the same shares
    th = default_thresholds(profile, acc)
    d_exits, _ = difficulty_exits(grid, acc, th)
    assert np.allclose(np.bincount(d_exits, minlength=profile.size) / grid.size, profile,
                       atol=2e-3)


stream = st.fixed_dictionaries({
    "model": st.sampled_from(["resnet18", "mobilenetv2", "alexnet"]),
    "arrival": st.sampled_from(["poisson", "bursty", "spikes", "periodic", "diurnal"]),
    "rate_rps": st.floats(0.5, 500.0),
    "slo_ms": st.floats(1.0, 1000.0),
    "priority": st.integers(0, 5),
})


@settings(max_examples=40, deadline=None)
@given(st.lists(stream, min_size=1, max_size=4), st.integers(0, 2**31))
def test_scenario_round_trip_and_trace(streams, seed):
    table = {"name": "h", "streams": [{"name": f"s{i}", **s} for i, s in enumerate(streams)]}
    sc = Scenario.from_dict(table)
    assert Scenario.from_dict(sc.to_dict()) == sc
    tr = sc.trace(500, seed)
    assert len(tr) == 500 and np.all(np.diff(tr.arrival_ms) >= 0)
    assert np.all(tr.arrival_ms >= 0)
    again = sc.trace(200, seed)
    assert np.array_equal(again.arrival_ms, tr.arrival_ms[:200])
