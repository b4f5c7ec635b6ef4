"""Simulator invariants: conservation, causality, determinism, stepping, overload."""

from __future__ import annotations

import numpy as np
import pytest
from reference_sim import synthetic_case

from dse.sim import POLICIES, ModelTables, Stepper, simulate


def _run(case, policy, params=None, **kw):
    return simulate(case["arrival"], case["stream"], case["model"], case["exit"], case["slo"],
                    case["tables"], policy, params, **kw)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_conservation_and_causality(policy):
    case = synthetic_case(11, n_requests=4000, n_models=2, n_streams=3, load=0.9)
    res = _run(case, policy, queue_cap=32)
    done = ~res.dropped
    assert np.array_equal(np.isnan(res.completion_ms), res.dropped)  # exactly one outcome
    assert np.all(res.start_ms[done] >= res.arrival_ms[done])
    # no request finishes faster than its layers at the fastest batch size
    min_service = np.array([
        np.cumsum(t.ms[:, 1:].min(axis=1))[res.exit_layer[i]] if done[i] else 0.0
        for i, t in ((i, case["tables"][res.model[i]]) for i in range(res.model.size))])
    assert np.all(res.completion_ms[done] - res.start_ms[done] >= min_service[done] * (1 - 1e-12))
    # the executors never do more work than wall time allows
    assert res.counters["end_ms"] >= res.completion_ms[done].max()


@pytest.mark.parametrize("policy", list(POLICIES))
def test_deterministic(policy):
    case = synthetic_case(5, n_requests=3000, n_models=3, n_streams=4, load=1.1)
    a, b = _run(case, policy), _run(case, policy)
    for key in ("start_ms", "completion_ms", "dropped", "energy_uj", "util_ms", "batch_sum"):
        assert np.array_equal(getattr(a, key), getattr(b, key), equal_nan=True)


@pytest.mark.parametrize("policy", ["fluid", "prema", "static", "bcedge"])
def test_stepper_equals_batch_loop(policy):
    """Advancing one decision at a time from Python gives the all-Numba result."""
    case = synthetic_case(3, n_requests=500, n_models=2, n_streams=2, load=0.9)
    args = (case["arrival"], case["stream"], case["model"], case["exit"], case["slo"],
            case["tables"], policy, None)
    stepper = Stepper(*args)
    decisions = 0
    while (x := stepper.next_decision()) is not None:
        obs = stepper.observe()
        assert len(obs["queue_len"]) == 2 and all(q >= 0 for q in obs["queue_len"])
        stepper.act(x, *stepper.policy_action(x))
        decisions += 1
    assert decisions > 0
    stepped, batch = stepper.result(), simulate(*args)
    assert np.array_equal(stepped.completion_ms, batch.completion_ms, equal_nan=True)


def _one_layer(ms_by_batch, exits=(0,)):
    ms = np.array([[0.0, *ms_by_batch]])
    return ModelTables(ms, ms * 2.0, np.full(ms.shape, 0.5), exits)


def test_hand_checked_fcfs_and_static():
    """One 1-layer model, 1 ms at batch 1, 1.5 ms at batch 2 (worked by hand)."""
    t = _one_layer([1.0, 1.5])
    arr = np.array([0.0, 0.5, 0.6])
    z = np.zeros(3, dtype=int)
    fcfs = simulate(arr, z, z, z, [10.0], [t], "fcfs")
    assert fcfs.completion_ms.tolist() == [1.0, 2.0, 3.0]
    assert fcfs.start_ms.tolist() == [0.0, 1.0, 2.0]
    # static, max batch 2, delay 0.2 ms: r0 waits until 0.2 alone, r1+r2 batch at 1.2
    st = simulate(arr, z, z, z, [10.0], [t], "static",
                  {"max_batch": 2, "max_queue_delay_ms": 0.2})
    assert st.start_ms.tolist() == [0.2, 1.2, 1.2]
    assert st.completion_ms.tolist() == [1.2, 2.7, 2.7]
    assert st.energy_uj.tolist() == [2.0, 1.5, 1.5]  # batch energy shared by its samples


def test_fluid_refills_slots_freed_by_early_exits():
    """Four layers (1 ms at batch 1, 1.1 ms at batch 2), exits after layers 0 and 3, half
    the requests at each (worked by hand with the rules of docs/simulator.md).  Two
    requests start together at 0 (batch 2: 2 / 1.875 ms beats 1 / 1.5 ms of expected
    throughput); one exits at 1.1.  Catching up the request queued at 0.5 lowers the
    expected member-ms by 1.7 ms (n pk + epsum + esum(1.5) = 1 + 1 + 4.8 against
    s0 + r0 + esum[0, 1] = 3 + 3 + 2.5), so it runs layer 0 alone (to 2.1) and merges;
    the pair ends at 2.1 + 3 x 1.1."""
    ms = np.array([[0.0, 1.0, 1.1]] * 4)
    t = ModelTables(ms, ms, np.ones_like(ms), (0, 3), (0.5, 0.5))
    arr = np.array([0.0, 0.0, 0.5])
    exits = np.array([0, 1, 1])
    z = np.zeros(3, dtype=int)
    end = 2.1 + 1.1 + 1.1 + 1.1
    fluid = simulate(arr, z, z, exits, [100.0], [t], "fluid", {"max_batch": 2})
    assert fluid.completion_ms.tolist() == pytest.approx([1.1, end, end], abs=1e-12)
    assert fluid.start_ms.tolist() == [0.0, 0.0, 1.1]
    assert fluid.counters["catchups"] == 1
    # refill needs 2 queued samples: the slot stays empty, r2 waits for the batch
    no = simulate(arr, z, z, exits, [100.0], [t], "fluid", {"max_batch": 2, "min_queue": 2})
    assert no.completion_ms.tolist() == pytest.approx([1.1, 4.1, 8.1], abs=1e-12)
    # SLO 5 ms: r1 finishes by 4.1 at worst without the refill and 5.4 with it -> no refill
    late = simulate(arr, z, z, exits, [5.0], [t], "fluid", {"max_batch": 2})
    assert late.counters["catchups"] == 0
    # without exits predicted, the same catch-up pays less (each newcomer runs all 4
    # layers) but still pays: the policy reads the profile, never the request's exit
    blind = simulate(arr, z, z, exits, [100.0], [ModelTables(ms, ms, np.ones_like(ms), (0, 3))],
                     "fluid", {"max_batch": 2})
    assert blind.counters["catchups"] == 1


def test_fluid_start_size_avoids_a_cliff():
    """One layer, 1 ms at batch 1, 1.2 at 2, 5 at 3 (a spill): three queued requests start
    as a batch of 2 (1.67 samples/ms against 0.6), the third runs after it."""
    t = _one_layer([1.0, 1.2, 5.0])
    z = np.zeros(3, dtype=int)
    res = simulate(np.zeros(3), z, z, z, [100.0], [t], "fluid", {"max_batch": 3})
    assert res.start_ms.tolist() == [0.0, 0.0, 1.2]
    assert res.completion_ms.tolist() == [1.2, 1.2, 2.2]


def test_fluid_preempts_only_for_a_job_that_would_miss_its_deadline():
    """Model 0: 4 layers of 1 ms; model 1: 1 layer of 0.5 ms.  A model-1 request arriving
    at 1.2 ms with a 1.5 ms SLO must start by 2.2 ms; at the boundary at 2 ms the running
    batch still needs 2 ms, so it is paused (its member, due at 100 ms, can afford 0.5 ms)
    and resumed at 2.5 ms.  With a 100 ms SLO the request waits for the batch instead."""
    long = ModelTables(np.array([[0.0, 1.0]] * 4), np.ones((4, 2)), np.ones((4, 2)), (3,))
    short = ModelTables(np.array([[0.0, 0.5]]), np.ones((1, 2)), np.ones((1, 2)), (0,))
    args = (np.array([0.0, 1.2]), np.array([0, 1]), np.array([0, 1]), np.array([0, 0]))
    res = simulate(*args, [100.0, 1.5], [long, short], "fluid", {"max_batch": 1})
    assert res.completion_ms.tolist() == [4.5, 2.5]
    assert res.counters["preemptions"] == 1
    res = simulate(*args, [100.0, 100.0], [long, short], "fluid", {"max_batch": 1})
    assert res.completion_ms.tolist() == [4.0, 4.5]
    assert res.counters["preemptions"] == 0


def test_prema_preempts_long_batch_for_short_model():
    """Model 0: 4 layers of 1 ms; model 1: 1 layer of 0.5 ms.  A model-1 request arriving
    at 1.2 ms runs at the next layer boundary (2 ms) once its token reaches the threshold
    (wait / isolated = 0.8 / 0.5 >= 1), because its job is shorter than the remaining 2 ms."""
    long = ModelTables(np.array([[0.0, 1.0]] * 4), np.ones((4, 2)), np.ones((4, 2)), (3,))
    short = ModelTables(np.array([[0.0, 0.5]]), np.ones((1, 2)), np.ones((1, 2)), (0,))
    res = simulate(np.array([0.0, 1.2]), np.array([0, 1]), np.array([0, 1]),
                   np.array([0, 0]), [100.0, 100.0], [long, short], "prema",
                   {"max_batch": 1, "token_threshold": 1.0})
    assert res.completion_ms.tolist() == [4.5, 2.5]
    assert res.counters["preemptions"] == 1


def test_overload_drops_at_queue_cap_and_horizon():
    case = synthetic_case(2, n_requests=3000, n_models=1, n_streams=1, load=5.0)
    res = _run(case, "fcfs", queue_cap=10)
    assert res.counters["max_queue"] == 10
    assert res.dropped.sum() > 1000
    res = _run(case, "fcfs", queue_cap=100_000, horizon_ms=float(case["arrival"][-1]))
    assert res.dropped.sum() > 1000
    assert np.all(np.nan_to_num(res.completion_ms) <= case["arrival"][-1])


def test_bad_inputs():
    from dse.common import InputError

    t = _one_layer([1.0])
    with pytest.raises(InputError, match="unknown policy 'fluidd'.*did you mean 'fluid'"):
        simulate([0.0], [0], [0], [0], [1.0], [t], "fluidd")
    with pytest.raises(InputError, match="unknown parameter 'max_bach'.*max_batch"):
        simulate([0.0], [0], [0], [0], [1.0], [t], "static", {"max_bach": 2})
    with pytest.raises(InputError, match="max_batch: must be >= 1, got 0"):
        simulate([0.0], [0], [0], [0], [1.0], [t], "static", {"max_batch": 0})
    with pytest.raises(InputError, match="at least one request"):
        simulate([], [], [], [], [1.0], [t], "fcfs")
    with pytest.raises(InputError, match="sorted"):
        simulate([1.0, 0.0], [0, 0], [0, 0], [0, 0], [1.0], [t], "fcfs")


def test_stepper_rejects_impossible_actions():
    case = synthetic_case(4, n_requests=50, n_models=1, n_streams=1, load=0.5)
    stepper = Stepper(case["arrival"], case["stream"], case["model"], case["exit"],
                      case["slo"], case["tables"], "fluid", None)
    x = stepper.next_decision()  # idle executor after the first arrival
    with pytest.raises(ValueError, match="continue needs a running batch"):
        stepper.act(x, 0)
    with pytest.raises(ValueError, match="start needs"):
        stepper.act(x, 2, model=0, k=5)  # only one request queued
    stepper.act(x, 2, model=0, k=1)
    assert stepper.observe()["queue_len"] == [0]


@pytest.mark.parametrize("policy", list(POLICIES))
def test_policies_never_read_a_requests_exit(policy):
    """A policy predicts from the exit profile; the exit each request will take (its exit
    layer, or a batch's count of members leaving at a layer) is the simulator's alone."""
    import inspect

    from dse.sim.policies import _shared

    pol = POLICIES[policy]
    for module in {inspect.getmodule(h.py_func) for h in
                   (pol.decide, pol.continues_at, pol.on_batch_done)} | {_shared}:
        source = inspect.getsource(module)
        for name in ("rexitl", "c_cnt", "k_cnt"):
            assert name not in source, f"{policy} reads st.{name}"
