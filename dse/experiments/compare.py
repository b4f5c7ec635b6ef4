"""Policy x load comparison on one design (what ``dse compare`` runs), capacity-fair.

Every policy simulates the same traces at each load level (common random numbers) with
the same samples in flight (:mod:`dse.experiments.fairness`).  For one model, load 1.0 is
the design's capacity with the exit profile (:func:`capacity_rps`) unless a rate is
given, the workloads are Poisson and spiking arrivals at that rate (spikes sized to the
capacity), and the SLO is absolute (default :data:`DEFAULT_SLO_X` x the isolated batch-1
latency).  :func:`tuned_compare` first tunes every policy on tuning seeds, then reports
held-out seeds with 95% confidence intervals (:mod:`dse.experiments.tuning`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dse.evaluation import evaluate, isolated_ms
from dse.experiments.fairness import (
    at_load_one,
    capacity_rps,
    fair_params,
    held_equal,
    samples_in_flight,
    scenario_capacity_rps,
    spike_params,
)
from dse.experiments.tuning import TUNE_BUDGET, held_out_seeds, tune, tuning_seeds
from dse.metrics.stats import mean_ci
from dse.sim import POLICIES, get_policy

#: Arrival processes a single-model comparison runs (``--arrival X`` replaces the second).
ARRIVALS = ("poisson", "spikes")
#: Load factors (multiples of the load-1.0 rate).
LOADS = (0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2)
#: SLO of a single-model comparison without one: this multiple of the isolated latency.
DEFAULT_SLO_X = 5.0
#: Overall metrics kept per run (means over seeds).
KEYS = ("slo_attainment", "mean_latency_ms", "p95_latency_ms", "mean_batch", "dropped",
        "unstable")


def single_stream(model: str, *, rate_rps: float, slo_ms: float | None = None,
                  slo_x: float | None = None, arrival: str = "poisson",
                  exit_profile: list[float] | None = None, arrival_params: dict | None = None,
                  source: str = "command line"):
    """A one-stream scenario named after ``model`` (SLO as ``slo_ms`` or ``slo_x``)."""
    from workloads import Scenario

    stream = {"name": model, "model": model, "arrival": arrival, "rate_rps": rate_rps,
              **(arrival_params or {})}
    if slo_ms is not None:
        stream["slo_ms"] = slo_ms
    else:
        stream["slo_x"] = slo_x
    if exit_profile is not None:
        stream["exit_profile"] = list(exit_profile)
    return Scenario.from_dict({"name": model, "streams": [stream]}, source=source)


def model_workloads(design, model: str, *, rate_rps: float | None = None,
                    slo_ms: float | None = None, arrival: str = "poisson",
                    exit_profile: list[float] | None = None, batch: int | None = None
                    ) -> tuple[dict, float]:
    """``({arrival name: scenario}, load-1.0 rate in requests/s)`` of a single-model
    comparison: Poisson and spikes (or ``arrival``) at ``rate_rps`` (default: the
    capacity with ``exit_profile``), SLO ``slo_ms`` (default: :data:`DEFAULT_SLO_X` x the
    isolated latency, in ms); spikes hold :data:`dse.experiments.fairness.SPIKE_X`
    isolated latencies of work at capacity."""
    cap = capacity_rps(design, model, exit_profile=exit_profile, batch=batch)
    base = rate_rps if rate_rps is not None else cap
    iso = isolated_ms(design, [model])[model]
    slo = slo_ms if slo_ms is not None else DEFAULT_SLO_X * iso
    arrivals = ARRIVALS if arrival == "poisson" else ("poisson", arrival)
    return {a: single_stream(model, rate_rps=base, arrival=a, exit_profile=exit_profile,
                             slo_ms=slo,
                             arrival_params=spike_params(cap, iso) if a == "spikes" else None)
            for a in arrivals}, base


@dataclass
class Comparison:
    """Results of :func:`compare`: one record per (workload, load, policy) in ``runs``
    (keys ``arrival, load, policy, samples_in_flight`` and :data:`KEYS`, means over the
    seeds, plus ``slo_attainment_ci`` ``[lo, hi]`` with several seeds); ``params``: the
    parameters each policy ran with per workload; ``held_equal``: what every policy was
    given equally; ``tuning``: per workload and policy, the tuning record (tuned runs)."""

    workloads: list[str]
    loads: list[float]
    policies: list[str]
    runs: list[dict]
    base_rate_rps: float | None = None
    warnings: list[str] = field(default_factory=list)
    batch: int = 0
    seeds: list[int] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    held_equal: list[str] = field(default_factory=list)
    tuning: dict = field(default_factory=dict)

    def run(self, workload: str, load: float, policy: str) -> dict:
        return next(r for r in self.runs if r["arrival"] == workload and r["load"] == load
                    and r["policy"] == policy)


def _describe(design, workloads: dict, batch: int) -> list[str]:
    load, slo, spikes = {}, {}, {}
    for name, sc in workloads.items():
        load[name] = float(sc.rates_rps().sum())
        for s in sc.streams:
            if s.slo_ms is not None:
                slo[s.name] = s.slo_ms
            if s.arrival == "spikes":
                spikes[f"{name}/{s.name}"] = s.params
    ref = f"{design.pe_count}x{design.pe_width} PEs"
    return held_equal(batch=batch, load_rps=load, slo_ms=slo, reference=ref,
                      spikes=spikes)


def run_points(design, scenario, policy: str, params: dict, *, loads, seeds, n_requests: int,
               warnings: list | None = None) -> list[dict]:
    """One record per load: :data:`KEYS` averaged over ``seeds`` and the per-seed SLO
    attainment (``attainment_by_seed``)."""
    out = []
    for load in loads:
        sc = scenario.scaled(load)
        per_seed = []
        for seed in seeds:
            ev = evaluate(design, sc, policy, params, seed=seed, n_requests=n_requests)
            if warnings is not None:
                warnings += [w for w in ev.warnings if w not in warnings]
            per_seed.append(ev.metrics["overall"])
        rec = {"load": load}
        for k in KEYS:
            vals = [o[k] for o in per_seed]
            rec[k] = (any(vals) if isinstance(vals[0], bool)
                      else float(np.mean(np.asarray(vals, dtype=np.float64))))
        rec["attainment_by_seed"] = [float(o["slo_attainment"]) for o in per_seed]
        out.append(rec)
    return out


def compare(design, workloads: dict, *, policies=None, loads=LOADS, n_requests: int = 10000,
            seed: int = 0, seeds=None, params: dict | None = None,
            base_rate_rps: float | None = None, batch: int | None = None,
            on_run: Callable[[], None] | None = None) -> Comparison:
    """Simulate every policy of ``policies`` (default: all registered) on ``design`` for
    each workload (name -> scenario) scaled by each load factor, on ``seeds`` (default
    ``[seed]``).  ``params`` maps a policy to its parameters, or a workload name to such a
    map (default: each policy's defaults); every batching policy gets ``batch`` samples in
    flight (default the design's ``max_batch``).  ``on_run()`` is called after each
    simulation (progress)."""
    names = list(POLICIES) if policies is None else [get_policy(n).name for n in policies]
    batch = int(design.max_batch if batch is None else batch)
    seeds = [int(seed)] if seeds is None else [int(s) for s in seeds]
    params = params or {}
    out = Comparison(list(workloads), list(loads), names, [], base_rate_rps, batch=batch,
                     seeds=seeds, held_equal=_describe(design, workloads, batch))
    for wname, scenario in workloads.items():
        given = params.get(wname, params)
        out.params[wname] = {}
        for name in names:
            fair = fair_params(name, given.get(name), batch)
            out.params[wname][name] = fair
            flight = samples_in_flight(name, fair, design.max_batch)
            for rec in run_points(design, scenario, name, fair, loads=loads, seeds=seeds,
                                  n_requests=n_requests, warnings=out.warnings):
                run = {"arrival": wname, "load": rec["load"], "policy": name,
                       "samples_in_flight": flight, **{k: rec[k] for k in KEYS}}
                if len(seeds) > 1:
                    _, lo, hi = mean_ci(rec["attainment_by_seed"], bounds=(0.0, 1.0))
                    run["slo_attainment_ci"] = [lo, hi]
                out.runs.append(run)
                if on_run is not None:
                    on_run()
    return out


def tuned_compare(design, workloads: dict, *, optimize, policies=None, loads=LOADS,
                  n_requests: int = 10000, seed: int = 0, budget: int = TUNE_BUDGET,
                  tuning_runs: int = 1, held_out: int = 5, batch: int | None = None,
                  base_rate_rps: float | None = None,
                  on_run: Callable[[], None] | None = None) -> Comparison:
    """:func:`compare` with every policy tuned first: per workload, ``budget`` trials of
    ``optimize`` (``dse.search.optimize``) maximizing the mean SLO attainment over
    ``loads`` on ``tuning_runs`` tuning seeds, then ``held_out`` held-out seeds reported
    with 95% confidence intervals.  ``on_run()`` is called after each tuning trial and
    after each held-out simulation."""
    names = list(POLICIES) if policies is None else [get_policy(n).name for n in policies]
    batch = int(design.max_batch if batch is None else batch)
    tseeds = tuning_seeds(seed, tuning_runs)
    tuned, tuning = {}, {}
    for wname, scenario in workloads.items():
        tuned[wname], tuning[wname] = {}, {}
        for name in names:
            def score(p, name=name, scenario=scenario):
                recs = run_points(design, scenario, name, p, loads=loads, seeds=tseeds,
                                  n_requests=n_requests)
                return float(np.mean([r["slo_attainment"] for r in recs]))

            slo = [s.slo_ms for s in scenario.streams if s.slo_ms is not None]
            rec = tune(name, score, optimize=optimize, batch=batch, budget=budget, seed=seed,
                       ms_high=max(slo) if slo else None, on_trial=on_run)
            tuned[wname][name] = rec["params"]
            tuning[wname][name] = rec
    out = compare(design, workloads, policies=names, loads=loads, n_requests=n_requests,
                  seeds=held_out_seeds(seed, held_out), params=tuned,
                  base_rate_rps=base_rate_rps, batch=batch, on_run=on_run)
    out.tuning = tuning
    out.held_equal.append(f"tuning: {budget} trials per policy and workload (TPE, defaults "
                          f"first) on tuning seeds {tseeds}; reported on held-out seeds "
                          f"{out.seeds}")
    return out


def scenario_workloads(design, scenario, *, batch: int | None = None) -> tuple[dict, float]:
    """``({"scenario": scenario at load 1.0}, load-1.0 rate)``: the scenario's rates
    rescaled, mix kept, to its capacity on ``design`` (see ``fairness``)."""
    base = scenario_capacity_rps(design, scenario, batch=batch)
    return {"scenario": at_load_one(scenario, base)}, base
