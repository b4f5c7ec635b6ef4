"""The Numba kernel reproduces the plain-Python reference bit for bit, for every policy.

Hypothesis draws small multi-model, multi-stream scenarios (random latency tables, exit
points, loads from light to overloaded, coarse clocks with simultaneous arrivals) and
policy parameters anywhere in their declared ranges.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_sim import reference_simulate, synthetic_case

from dse.sim import POLICIES, simulate


def _param_strategy(policy):
    fields = {}
    for name, p in policy.params.items():
        if p.kind == "int":
            fields[name] = st.integers(int(p.low), int(p.high))
        elif p.kind == "bool":
            fields[name] = st.booleans()
        else:
            fields[name] = st.floats(float(p.low), float(p.high), allow_nan=False)
    return st.fixed_dictionaries(fields)


def _compare(case, policy, params, queue_cap):
    args = (case["arrival"], case["stream"], case["model"], case["exit"], case["slo"],
            case["tables"], policy, params)
    got = simulate(*args, queue_cap=queue_cap)
    ref = reference_simulate(*args, queue_cap=queue_cap)
    np.testing.assert_array_equal(got.dropped, ref["dropped"])
    np.testing.assert_array_equal(got.start_ms, ref["start_ms"])
    np.testing.assert_array_equal(got.completion_ms, ref["completion_ms"])
    done = ~got.dropped
    for key in ("energy_uj", "util_ms", "batch_sum"):
        np.testing.assert_allclose(getattr(got, key)[done], ref[key][done], rtol=1e-9)
    longest, last, enqueued = _queue_record(case, got, queue_cap)
    assert got.counters["max_queue"] == longest
    assert got.counters["queue_at_last_arrival"] == last
    np.testing.assert_array_equal(got.dropped, ~enqueued | np.isnan(got.completion_ms))
    return got


def _queue_record(case, res, queue_cap):
    """``(max_queue, queue_at_last_arrival, enqueued)`` derived from the arrivals and
    start times alone: a request waits in its model's queue from its arrival until it
    starts (arrivals at one time enqueue in index order, before any decision at that
    time), and is dropped when its queue holds ``queue_cap`` requests."""
    arrival, model = case["arrival"], case["model"]
    start = np.where(np.isnan(res.start_ms), np.inf, res.start_ms)
    enqueued = np.zeros(len(arrival), dtype=bool)
    longest = last = 0
    for i in range(len(arrival)):
        waiting = enqueued[:i] & (start[:i] >= arrival[i])
        q = int(np.count_nonzero(waiting & (model[:i] == model[i])))
        if q < queue_cap:
            enqueued[i] = True
            longest = max(longest, q + 1)
        last = int(np.count_nonzero(waiting)) + int(enqueued[i])
    return longest, last, enqueued


def _scenario_strategy():
    return st.fixed_dictionaries({
        "seed": st.integers(0, 10_000),
        "n_models": st.integers(1, 3),
        "n_streams": st.integers(1, 4),
        "load": st.sampled_from([0.3, 0.7, 0.95, 1.4]),
        "max_batch": st.integers(1, 8),
        "queue_cap": st.sampled_from([8, 64, 1024]),
    })


def _check(policy, scen, params):
    case = synthetic_case(scen["seed"], n_requests=2000, n_models=scen["n_models"],
                          n_streams=max(scen["n_streams"], scen["n_models"]),
                          load=scen["load"], max_batch=scen["max_batch"])
    res = _compare(case, policy, params, scen["queue_cap"])
    # conservation: every request completed or dropped, exactly once
    assert np.all(np.isnan(res.completion_ms) == res.dropped)


@pytest.mark.parametrize("policy", list(POLICIES))
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_reference(policy, data):
    scen = data.draw(_scenario_strategy())
    params = data.draw(_param_strategy(POLICIES[policy]))
    _check(policy, scen, params)


@pytest.mark.heavy
@pytest.mark.parametrize("policy", list(POLICIES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_matches_reference_many(policy, data):
    scen = data.draw(_scenario_strategy())
    params = data.draw(_param_strategy(POLICIES[policy]))
    _check(policy, scen, params)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_default_params_multi_model_overload(policy):
    """Defaults on a fixed 3-model, 4-stream case, overloaded so that queues overflow."""
    case = synthetic_case(7, n_requests=3000, n_models=3, n_streams=4, load=8.0, max_batch=8)
    res = _compare(case, policy, {}, 16)
    assert res.dropped.any()
