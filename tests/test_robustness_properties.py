"""Property tests over random designs, scenarios and policies, end to end through
``dse.evaluate`` (real cost model, real zoo models, real traces), plus cost-model
invariants that tests/test_cost_*.py do not cover.

Hypothesis runs derandomised (the same examples on every run); the ``heavy`` variants
draw many more examples.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_models import NpuDesign, conv, fc, latency_table, layer_array, matmul
from dse.evaluation import evaluate
from dse.sim import POLICIES
from workloads import Scenario, get_model

_FAST = settings(max_examples=12, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))
_MANY = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))

# Zoo models that keep one end-to-end example well under a second; bert_base and resnet50
# are exercised by the heavy variant.
FAST_MODELS = ["mobilenetv2", "alexnet", "msdnet", "resnet18"]
ALL_MODELS = [*FAST_MODELS, "resnet50", "bert_base"]


# ------------------------------------------------------------------ strategies
@st.composite
def designs(draw, max_batch=None):
    pe_count = draw(st.sampled_from([8, 16, 32, 64, 128]))
    ks = draw(st.lists(st.sampled_from([k for k in (1, 2, 4, 8) if pe_count % k == 0]),
                       min_size=1, max_size=3, unique=True))
    return replace(
        NpuDesign(), pe_count=pe_count, pe_width=draw(st.sampled_from([4, 8, 16, 32])),
        tile_rows=draw(st.sampled_from([8, 32, 64, 256])), stack_factors=tuple(sorted(ks)),
        batching=draw(st.sampled_from(["none", "r", "p", "fluid"])),
        pe_style=draw(st.sampled_from(["adder_tree", "systolic"])),
        max_batch=max_batch or draw(st.integers(1, 16)),
        clock_mhz=draw(st.sampled_from([200.0, 800.0, 1000.0])),
        dram_gbps=draw(st.sampled_from([4.0, 12.8, 100.0])),
        act_sram_kib=draw(st.sampled_from([64.0, 512.0, 2048.0])),
        weight_sram_kib=draw(st.sampled_from([64.0, 512.0, 2048.0])),
        out_sram_kib=draw(st.sampled_from([16.0, 64.0, 256.0]))).validated()


_ARRIVALS = {
    "poisson": st.just({}),
    "bursty": st.fixed_dictionaries({"peak_to_base": st.sampled_from([1.0, 5.0, 20.0])}),
    "spikes": st.fixed_dictionaries({"spike_size": st.integers(1, 30)}),
    "periodic": st.fixed_dictionaries({"jitter_ms": st.sampled_from([0.0, 1.0, 10.0])}),
    "diurnal": st.fixed_dictionaries({"period_s": st.sampled_from([1.0, 10.0])}),
}


@st.composite
def scenarios(draw, models):
    streams = []
    for i in range(draw(st.integers(1, 3))):
        arrival = draw(st.sampled_from(sorted(_ARRIVALS)))
        s = {"name": f"s{i}", "model": draw(st.sampled_from(models)), "arrival": arrival,
             "rate_rps": draw(st.sampled_from([5.0, 50.0, 200.0, 1000.0])),
             "priority": draw(st.integers(0, 2)), **draw(_ARRIVALS[arrival])}
        if draw(st.booleans()):
            s["slo_ms"] = draw(st.sampled_from([0.5, 5.0, 50.0, 500.0]))
        else:
            s["slo_x"] = draw(st.sampled_from([0.5, 1.0, 3.0, 10.0]))
        streams.append(s)
    return Scenario.from_dict({"name": "prop", "streams": streams})


@st.composite
def policy_params(draw):
    name = draw(st.sampled_from(list(POLICIES)))
    params = {}
    for pname, p in POLICIES[name].params.items():
        if not draw(st.booleans()):
            continue  # keep the default
        if p.kind == "bool":
            params[pname] = draw(st.booleans())
        elif p.kind == "int":
            params[pname] = draw(st.integers(int(p.low), int(p.high)))
        else:
            params[pname] = draw(st.floats(float(p.low), float(p.high), allow_nan=False))
    return name, params


def _fit_instances(design, policy, params):
    """BCEdge instances must divide the PE array; pick the largest divisor <= asked."""
    if POLICIES[policy].instances_param:
        key = POLICIES[policy].instances_param
        n = int(params.get(key, POLICIES[policy].params[key].default))
        while design.pe_count % n:
            n -= 1
        params = {**params, key: n}
    return params


# ------------------------------------------------------------------ simulator properties
def _check_run(design, scenario, policy, params, n, seed):
    params = _fit_instances(design, policy, params)
    ev = evaluate(design, scenario, policy, params, n_requests=n, seed=seed)
    trace = scenario.trace(n, seed)
    req = ev.requests
    arrival, start, done = req["arrival_ms"], req["start_ms"], req["completion_ms"]
    dropped = np.asarray(req["dropped"], dtype=bool)

    # every arrived request is completed or dropped, exactly once
    assert arrival.shape == (n,) and np.array_equal(arrival, trace.arrival_ms)
    assert np.array_equal(np.isnan(done), dropped)
    assert np.all(np.isfinite(done[~dropped]))

    # no completion before arrival + the batch-1 latency of its layers up to its exit,
    # on the (sliced, for bcedge) design the executor ran
    ok = ~dropped
    min_service = np.empty(n)
    for m, name in enumerate(trace.model_names):
        cum = np.cumsum(ev.tables[name].ms[:, 1])
        exit_layers = np.asarray(get_model(name).exit_layers)
        sel = trace.model == m
        min_service[sel] = cum[exit_layers[trace.exit[sel]]]
    assert np.all(start[ok] >= arrival[ok])
    assert np.all(done[ok] >= start[ok])
    slack = done[ok] - (arrival[ok] + min_service[ok])
    assert np.all(slack >= -1e-9 * np.maximum(1.0, done[ok])), slack.min()

    # metrics are consistent with the records
    o = ev.metrics["overall"]
    assert 0.0 <= o["slo_attainment"] <= 1.0
    assert 0.0 <= o["goodput_rps"] <= o["throughput_rps"] + 1e-9
    return ev


def _same(a, b):
    for key in ("arrival_ms", "start_ms", "completion_ms", "exit", "stream", "dropped"):
        assert np.array_equal(a.requests[key], b.requests[key], equal_nan=True), key
    strip = ("sim_seconds", "requests_per_second")
    ma = {k: v for k, v in a.metrics.items() if k not in strip}
    mb = {k: v for k, v in b.metrics.items() if k not in strip}
    assert repr(ma) == repr(mb)  # bit for bit, NaN included


@_FAST
@given(designs(), scenarios(FAST_MODELS), policy_params(), st.integers(0, 2**31 - 1))
def test_conservation_causality_and_seed_determinism(design, scenario, pp, seed):
    policy, params = pp
    a = _check_run(design, scenario, policy, params, 300, seed)
    b = _check_run(design, scenario, policy, params, 300, seed)
    _same(a, b)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_policy_on_a_multi_model_scenario_and_overload(policy):
    """Each registered policy, defaults, three models, at nominal load (all served) and at
    4x that load (queues overflow): every request accounted for, none served too fast."""
    design = replace(NpuDesign(), pe_count=64, pe_width=16, stack_factors=(1, 2),
                     max_batch=8).validated()
    scenario = Scenario.from_dict({"name": "mix", "streams": [
        {"name": "a", "model": "mobilenetv2", "arrival": "bursty", "rate_rps": 200,
         "slo_x": 3.0},
        {"name": "b", "model": "alexnet", "arrival": "poisson", "rate_rps": 100,
         "slo_ms": 30.0, "priority": 1},
        {"name": "c", "model": "msdnet", "arrival": "spikes", "rate_rps": 100,
         "slo_x": 5.0}]})
    calm = _check_run(design, scenario, policy, {}, 1500, 123)
    assert (~calm.requests["dropped"]).sum() > 1300
    storm = _check_run(design, scenario.scaled(4.0), policy, {}, 1500, 123)
    assert storm.requests["dropped"].sum() > 0


def test_different_seeds_give_different_traces():
    """The determinism check above is not vacuous: the seed does change the run."""
    design = NpuDesign()
    scenario = Scenario.from_dict({"name": "x", "streams": [
        {"name": "a", "model": "mobilenetv2", "rate_rps": 300, "slo_ms": 20.0}]})
    a = evaluate(design, scenario, "fluid", n_requests=200, seed=1)
    b = evaluate(design, scenario, "fluid", n_requests=200, seed=2)
    assert not np.array_equal(a.requests["arrival_ms"], b.requests["arrival_ms"])


@pytest.mark.heavy
@_MANY
@given(designs(), scenarios(ALL_MODELS), policy_params(), st.integers(0, 2**31 - 1))
def test_conservation_causality_and_seed_determinism_many(design, scenario, pp, seed):
    policy, params = pp
    a = _check_run(design, scenario, policy, params, 1000, seed)
    b = _check_run(design, scenario, policy, params, 1000, seed)
    _same(a, b)


# ------------------------------------------------------------------ cost-model invariants
@st.composite
def layer_lists(draw):
    out = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "dw", "fc", "matmul"]))
        if kind == "conv":
            h = draw(st.integers(3, 28))
            out.append(conv(f"c{i}", h, h, draw(st.integers(1, 64)), draw(st.integers(1, 128)),
                            draw(st.sampled_from([1, 3])), stride=draw(st.integers(1, 2)),
                            padding=1))
        elif kind == "dw":
            c = draw(st.integers(1, 64))
            out.append(conv(f"d{i}", 14, 14, c, c, 3, padding=1, groups=c))
        elif kind == "fc":
            out.append(fc(f"f{i}", draw(st.integers(1, 2048)), draw(st.integers(1, 1000)),
                          tokens=draw(st.integers(1, 8))))
        else:
            out.append(matmul(f"m{i}", draw(st.integers(1, 64)), draw(st.integers(1, 64)),
                              draw(st.integers(1, 64)), heads=draw(st.integers(1, 4))))
    return out


_COST = settings(max_examples=40, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


@_COST
@given(designs(max_batch=8), layer_lists(), st.sampled_from(["dram_gbps", "act_sram_kib",
                                                             "weight_sram_kib"]))
def test_more_bandwidth_or_buffer_never_slower(d, layers, field):
    """Doubling DRAM bandwidth or the activation / weight SRAM can only remove memory
    stalls: no layer step of any batch size gets more cycles."""
    base = latency_table(d, layers).cycles
    more = latency_table(replace(d, **{field: getattr(d, field) * 2}), layers).cycles
    assert (more <= base).all()


@_COST
@given(designs(max_batch=8), layer_lists(), st.sampled_from([0.5, 2.0, 4.0]))
def test_cycles_depend_on_clock_only_through_bytes_per_cycle(d, layers, f):
    """Scaling clock and DRAM bandwidth together (by powers of two, exact in floating
    point) keeps every cycle count and mode; ms scale by 1/f."""
    a = latency_table(d, layers)
    b = latency_table(replace(d, clock_mhz=d.clock_mhz * f, dram_gbps=d.dram_gbps * f), layers)
    assert np.array_equal(a.cycles, b.cycles) and np.array_equal(a.modes, b.modes)
    assert np.array_equal(b.ms, a.cycles / (d.clock_mhz * f * 1e3))
    assert np.allclose(b.ms * f, a.ms, rtol=1e-15, atol=0)


@_COST
@given(designs(max_batch=12), layer_lists(), st.integers(1, 11))
def test_table_prefix_does_not_depend_on_max_batch(d, layers, small):
    """The FBE entry for batch b is the same whether the table stops at b or later."""
    big = latency_table(d, layers)
    cut = latency_table(replace(d, max_batch=small), layers)
    for name in ("cycles", "compute_cycles", "modes", "dram_bytes", "ms", "energy_uj"):
        assert np.array_equal(getattr(cut, name), getattr(big, name)[:, :small + 1]), name


@_COST
@given(designs(max_batch=6), layer_lists(), st.randoms(use_true_random=False))
def test_layers_are_tabulated_independently(d, layers, rnd):
    """Row i depends only on layer i: permuting the layers permutes the rows."""
    order = list(range(len(layers)))
    rnd.shuffle(order)
    a = latency_table(d, layers)
    b = latency_table(d, [layers[i] for i in order])
    for name in ("cycles", "modes", "dram_bytes", "energy_uj"):
        assert np.array_equal(getattr(b, name), getattr(a, name)[order]), name
    one = latency_table(d, layers[-1:])
    assert np.array_equal(one.cycles[0], a.cycles[-1])


@_COST
@given(designs(max_batch=8), layer_lists(), st.sampled_from([2, 4]))
def test_adder_tree_slice_never_faster_than_whole_array(d, layers, n):
    """A BCEdge slice (1/n of PEs, SRAM and bandwidth) never runs a layer step faster.
    (Systolic arrays are excluded on purpose: a narrower systolic array drains faster, so
    a tiny layer can finish sooner on a slice, as SCALE-Sim's fold formula says.)"""
    d = replace(d, pe_style="adder_tree")
    if d.pe_count % n or not set(d.sliced(n).stack_factors) <= set(d.stack_factors):
        return  # a slice that falls back to k=1 has a mode the whole array lacks
    whole = latency_table(d, layers).cycles
    part = latency_table(d.sliced(n), layers).cycles
    assert (part >= whole).all()


@_COST
@given(designs(max_batch=8), layer_lists())
def test_traffic_and_energy_lower_bounds(d, layers):
    """Every layer step reads shared weights from DRAM at least once; energy is finite,
    zero only for the empty batch, and at least the MAC energy of the batch."""
    from cost_models.latency import mac_energy_pj

    t = latency_table(d, layers)
    arr = layer_array(layers)
    bpe = d.precision_bits // 8
    shared = arr[:, 6] != 0
    w_bytes = arr[:, 5] * bpe
    assert (t.dram_bytes[shared, 1:] >= w_bytes[shared, None]).all()
    assert (t.dram_bytes[:, 0] == 0).all() and (t.energy_uj[:, 0] == 0).all()
    assert np.isfinite(t.energy_uj).all()
    macs = arr[:, 0] * arr[:, 1] * arr[:, 2] * arr[:, 3]
    b = np.arange(d.max_batch + 1)
    assert (t.energy_uj * 1e6 >= macs[:, None] * b[None, :] * mac_energy_pj(d) * (1 - 1e-12)
            ).all()
