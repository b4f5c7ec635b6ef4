"""Co-design: the Pareto front of SLO satisfaction vs area when the hardware, the fluid
scheduler's thresholds and the exit thresholds are searched together, against a
hardware-only search with default thresholds and against fixed baseline designs.

Every design sees the same arrivals (the workloads' absolute rates) and absolute SLOs;
exits follow the difficulty model (``workloads.exits``), at the thresholds that
reproduce each model's exit profile unless they are searched.
The objective is the mean over the workloads of (average + tail satisfaction) / 2 on
the tuning seeds; constraints: area within the budget, and accuracy no lower than the
default exits' minus :data:`ACCURACY_SLACK` (searching exit thresholds otherwise buys
latency with accuracy).  Front designs are re-evaluated on held-out seeds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cost_models import NpuDesign, area_breakdown
from dse.common import InputError
from dse.evaluation import evaluate
from dse.experiments._satisfaction import seed_scores
from dse.experiments.fairness import fair_params
from dse.experiments.tuning import tuning_dims
from dse.sim import Param
from workloads import get_model
from workloads.exits import default_thresholds

#: Hardware dimensions searched (the base design gives the clock, DRAM, node, PE style).
HARDWARE = {
    "pe_count": (64, 128, 256, 512),
    "pe_width": (8, 16, 32),
    "tile_rows": (64, 128),
    "batching": ("r", "p", "fluid"),
    "stack_factors": ("1", "1,2,4", "1,2,4,8,16"),
    "act_sram_kib": (512, 1024, 2048),
    "weight_sram_kib": (256, 512, 1024),
}
#: Confidence thresholds searched per exit (all but the last).
THRESHOLD = Param("threshold", "float", 0.5, 0.05, 0.99, False, "exit confidence")
#: Accuracy points (fraction) the searched exits may lose against the default exits.
ACCURACY_SLACK = 0.005


def hardware(base: NpuDesign, params: dict) -> NpuDesign:
    """The base design with the searched hardware fields of ``params`` (InputError when
    the combination is not a valid design)."""
    table = base.to_dict()
    for name in HARDWARE:
        v = params[name]
        table[name] = [int(k) for k in v.split(",")] if name == "stack_factors" else v
    return NpuDesign.from_dict(table, source="co-design")


def with_exits(workload, params: dict):
    """The workload with each stream's searched exit thresholds (difficulty mode)."""
    sc = workload.scenario
    for s in sc.streams:
        n = get_model(s.model).n_exits - 1
        keys = [f"exit.{s.model}.{e}" for e in range(n)]
        if keys and keys[0] in params:
            sc = sc.replace_stream(s.name, exit_thresholds=[params[k] for k in keys])
    return dataclasses.replace(workload, scenario=sc)


def default_exits(workloads) -> dict:
    """Per model, the thresholds under which the difficulty model reproduces its exit
    profile (``workloads.exits.default_thresholds``): the exits of a search that does
    not search them."""
    out = {}
    for w in workloads:
        for s in w.scenario.streams:
            m = get_model(s.model)
            profile = s.exit_profile if s.exit_profile is not None else m.exit_profile
            for e, t in enumerate(default_thresholds(profile, m.exit_accuracy,
                                                     m.confidence_slope)):
                out.setdefault(f"exit.{s.model}.{e}", t)
    return out


def _accuracy(design, workloads, policy, params, *, seed, n_requests) -> float:
    return float(np.mean([evaluate(design, w.scenario, policy, params, seed=seed,
                                   n_requests=n_requests).metrics["overall"]["accuracy"]
                          for w in workloads]))


def score(design, workloads, policy, params, *, seeds, loads, slo_x, n_requests) -> float:
    """Mean over workloads and seeds of (average + tail satisfaction) / 2."""
    return float(np.mean([(s["average"] + s["tail"]) / 2.0 for w in workloads for s in (
        seed_scores(design, w, policy, params, loads=loads, slo_x=slo_x, seed=seed,
                    n_requests=n_requests) for seed in seeds)]))


def search(base: NpuDesign, workloads, *, optimize, joint: bool, budget_mm2: float,
           batch: int, trials: int, seeds, held_out, loads, slo_x, n_requests: int,
           seed: int = 0, front_size: int = 6, on_trial=None) -> list[dict]:
    """NSGA-II over :data:`HARDWARE` (plus, when ``joint``, the fluid thresholds and each
    model's exit thresholds); ``fluid`` schedules.  Returns one record per trial
    (``area_mm2``, ``satisfaction``, ``accuracy``, ``feasible``, ``on_front``,
    ``params``); front members also carry ``held_out`` (their score on ``held_out``)."""
    dims = dict(HARDWARE)
    models = sorted({s.model for w in workloads for s in w.scenario.streams})
    if joint:
        ms_high = max(slo_x) * max(v for w in workloads for v in w.slo_ref_ms.values())
        dims.update({f"fluid.{k}": d for k, d in tuning_dims("fluid", batch, ms_high).items()})
        for m in models:
            dims.update({f"exit.{m}.{e}": THRESHOLD for e in range(get_model(m).n_exits - 1)})
    fixed = default_exits(workloads)
    floor = _accuracy(base, [with_exits(w, fixed) for w in workloads], "fluid",
                      fair_params("fluid", None, batch), seed=seeds[0],
                      n_requests=n_requests) - ACCURACY_SLACK

    def objective(p):
        p = {**fixed, **p}
        try:
            design = hardware(base, p)
        except InputError:
            return (0.0, 1e3), (1e3, 1e3)
        area = float(area_breakdown(design)["total"])
        pol = fair_params("fluid", {k[6:]: v for k, v in p.items() if k.startswith("fluid.")},
                          min(batch, design.max_batch))
        ws = [with_exits(w, p) for w in workloads]
        sat = score(design, ws, "fluid", pol, seeds=seeds, loads=loads, slo_x=slo_x,
                    n_requests=n_requests)
        acc = _accuracy(design, ws, "fluid", pol, seed=seeds[0], n_requests=n_requests)
        return (sat, area), (area - budget_mm2, floor - acc)

    records = optimize(objective, dims, n_trials=trials, seed=seed, sampler="nsga2",
                       directions=("maximize", "minimize"), on_trial=on_trial)
    out = [{"search": "joint" if joint else "hardware only", "trial": i,
            "satisfaction": r["values"][0], "area_mm2": r["values"][1],
            "accuracy_margin": -r["constraints"][1], "feasible": r["feasible"],
            "params": r["params"]} for i, r in enumerate(records)]
    _mark_front(out)
    front = sorted((r for r in out if r["on_front"]), key=lambda r: r["area_mm2"])
    for r in front[-front_size:]:  # the best-satisfying front members
        p = {**fixed, **r["params"]}
        design = hardware(base, p)
        pol = fair_params("fluid", {k[6:]: v for k, v in p.items() if k.startswith("fluid.")},
                          min(batch, design.max_batch))
        r["held_out"] = score(design, [with_exits(w, p) for w in workloads], "fluid", pol,
                              seeds=held_out, loads=loads, slo_x=slo_x, n_requests=n_requests)
    return out


def _mark_front(records: list[dict]) -> None:
    """``on_front``: feasible and not dominated (higher satisfaction, lower area)."""
    feas = [r for r in records if r["feasible"]]
    for r in records:
        r["on_front"] = r["feasible"] and not any(
            o["satisfaction"] >= r["satisfaction"] and o["area_mm2"] <= r["area_mm2"]
            and (o["satisfaction"] > r["satisfaction"] or o["area_mm2"] < r["area_mm2"])
            for o in feas)
