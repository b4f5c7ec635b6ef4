"""``dse reproduce``: the Fluid Batching paper's comparison, capacity-fair and tuned.

On one area budget, (a) fluid batching + stackable PEs + the exit-aware ``fluid``
scheduler against (b) every baseline policy on conventional hardware (the same PE array
with R-batching only, no stacking) and on the same hardware; Poisson and spiking
arrivals; loads 0.3..1.2 of the best sustainable throughput; several early-exit models
and a multi-tenant mix; paper-style average- and tail-latency SLO satisfaction with the
ratio to the best baseline.  Every policy is tuned on tuning seeds and reported on
held-out seeds (:mod:`dse.experiments.tuning`).  Plus the hardware ablation
(:mod:`~dse.experiments._ablation`), the co-design fronts
(:mod:`~dse.experiments._codesign`) and the sensitivity of the main comparison to the
exit profile (earlier, later, no exits; parameters tuned at the nominal profile).

The result is data (:class:`Reproduction`, pandas tables); ``dse.report`` writes the
tables and figures, the CLI prints.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import cost_models
from cost_models import area_breakdown, load_npu
from dse.common import InputError
from dse.experiments import _ablation, _codesign
from dse.experiments._satisfaction import (
    make_workload,
    seed_scores,
    summarize,
    tuning_score,
    versus,
)
from dse.experiments.fairness import held_equal, samples_in_flight
from dse.experiments.tuning import held_out_seeds, tune, tuning_seeds
from dse.sim import LEARNED, POLICIES, get_policy

FLUID_HW, CONVENTIONAL = "fluid hardware", "conventional"
DESIGN = Path(cost_models.__file__).resolve().parent / "designs" / "npu_large.toml"


@dataclass(frozen=True)
class ReproConfig:
    """What a reproduction runs (the full run's sizes; :meth:`quick` shrinks them)."""

    design: str = str(DESIGN)
    area_budget_mm2: float = 8.0
    models: tuple = ("resnet50", "mobilenetv2", "msdnet")
    tenants: tuple = (("camera", "resnet50", 0.4), ("doorbell", "mobilenetv2", 0.4),
                      ("voice", "bert_base", 0.2))
    arrivals: tuple = ("poisson", "spikes")
    loads: tuple = (0.3, 0.5, 0.7, 0.9, 1.0, 1.2)
    slo_x: tuple = (2.0, 4.0, 8.0, 16.0)
    n_requests: int = 2000
    tuning_runs: int = 1
    held_out: int = 8
    budget: int = 16
    exit_shifts: tuple = (-0.5, 0.5, 1.0)
    sensitivity_seeds: int = 4
    ablation_seeds: int = 4
    codesign_model: str = "resnet50"
    codesign_trials: int = 60
    seed: int = 0
    #: Policies compared (names; ``fluid`` is always one): default every registered policy.
    policies: tuple | None = None
    #: A trained ``bcedge-rl`` policy file to compare too (untuned; see :func:`rl_scope`).
    rl_model: str | None = None

    def policy_names(self) -> list[str]:
        """The compared kernel policies, registry order, ``fluid`` included (the learned
        ``bcedge-rl`` joins through :attr:`rl_model`)."""
        names = list(POLICIES) if self.policies is None else list(dict.fromkeys(
            get_policy(n).name for n in self.policies))
        learned = [n for n in names if n in LEARNED]
        if learned:
            raise InputError(f"{', '.join(learned)} is a trained agent: give its policy "
                             "file with --rl-model instead", field="policy",
                             allowed=list(POLICIES))
        if names in ([], ["fluid"]):
            raise InputError("name at least one baseline besides fluid", field="policy",
                             allowed=[p for p in POLICIES if p != "fluid"])
        return names if "fluid" in names else [*names, "fluid"]

    @classmethod
    def quick(cls, **changes) -> ReproConfig:
        """A small run for CI: one model plus the tenant mix, a coarse grid, short traces,
        few seeds and trials."""
        return cls(**{**dict(models=("resnet50",), loads=(0.5, 0.9, 1.2), slo_x=(4.0, 16.0),
                             n_requests=600, held_out=4, budget=4, sensitivity_seeds=2,
                             ablation_seeds=2, codesign_trials=8), **changes})


@dataclass
class Reproduction:
    """Everything a reproduction measured (tables are pandas DataFrames)."""

    config: ReproConfig
    areas: dict
    held_equal: list
    records: pd.DataFrame = None      # one row per shift/workload/hardware/policy/seed
    tuning: pd.DataFrame = None       # tuned parameters and scores
    summary: pd.DataFrame = None      # nominal profile: means and 95% CIs
    ratios: pd.DataFrame = None       # fluid on fluid hardware vs the best baselines
    sensitivity: pd.DataFrame = None  # ratios to the best baselines per exit shift
    ranking: pd.DataFrame = None      # means and CIs per exit shift, hardware and policy
    ablation: dict = field(default_factory=dict)
    codesign: pd.DataFrame = None
    seconds: dict = field(default_factory=dict)


def _streams(config) -> list:
    """(workload name, [(stream, model, share), ...]) of every workload of ``config``."""
    streams = [(m, [(m, m, 1.0)]) for m in config.models]
    if config.tenants:
        streams.append(("tenants", [tuple(t) for t in config.tenants]))
    return streams


def _designs(config) -> dict:
    fluid_hw = load_npu(config.design)
    conv = dataclasses.replace(fluid_hw, batching="r", stack_factors=(1,))
    return {FLUID_HW: fluid_hw, CONVENTIONAL: conv}


RL = "bcedge-rl"


def rl_scope(config) -> tuple[dict, list, str] | None:
    """Where the trained agent of ``config.rl_model`` is compared: ``(its parameters,
    [(workload name, hardware), ...], a line for the output)``, or None without one.

    An agent is trained for one NPU and one set of models, with its samples in flight:
    it runs on the workloads whose models (in order) are the ones it was trained on, on
    the hardware variant equal to its training NPU, and nowhere else; its samples in
    flight must be the comparison's.  It is not tuned (its network is its parameters):
    it runs as trained across the load and SLO grid, at the nominal exit profile (the
    tables over several workloads and the exit-shift sensitivity leave it out)."""
    if config.rl_model is None:
        return None
    from dse.sim.policies.bcedge_rl import read_settings, require_rl

    require_rl()
    settings = read_settings(config.rl_model, field="rl_model")
    designs = _designs(config)
    batch = designs[FLUID_HW].max_batch
    trained = settings.get("trained", {})
    if settings["max_batch"] != batch:
        raise InputError(f"{config.rl_model} was trained with {settings['max_batch']} "
                         f"samples in flight; the reproduction gives every policy {batch} "
                         f"(train with --max-batch {batch})", field="rl_model")
    if "npu" not in trained:
        raise InputError(f"{config.rl_model} does not record the NPU it was trained on "
                         "(written by an older `dse rl train`): train it again",
                         field="rl_model")
    hardware = [hw for hw, d in designs.items() if d.to_dict() == trained["npu"]]
    names = [name for name, s in _streams(config)
             if list(dict.fromkeys(m for _, m, _ in s)) == settings["models"]]
    if not hardware or not names:
        raise InputError(
            f"{config.rl_model} was trained for models {settings['models']} on another "
            f"NPU or workload: it applies to none of the reproduction's workloads "
            f"({', '.join(n for n, _ in _streams(config))}) on {config.design} (train it "
            "with --npu set to that design and a scenario of one workload's models)",
            field="rl_model")
    note = (f"{RL}: the agent of {config.rl_model} (SAC, {trained.get('steps')} steps on "
            f"scenario {trained.get('scenario')}), untuned, on {', '.join(names)} on "
            f"{', '.join(hardware)} only (the models and NPU it was trained for)")
    return {"model": str(config.rl_model)}, [(n, hw) for n in names for hw in hardware], note


def _workloads(config, designs, reference, shift=None) -> list:
    streams = _streams(config)
    return [make_workload(name, a, s, designs=designs, reference=reference,
                          batch=reference.max_batch, exit_shift=shift)
            for name, s in streams for a in config.arrivals]


# --- tasks: independent units, run by ``map_fn`` (a process pool in the CLI) ------------
def _tune_task(args):
    design, hw, w, pol, batch, budget, seed, tseeds, grid, optimize = args

    def score(p):
        return tuning_score([seed_scores(design, w, pol, p, seed=s, **grid) for s in tseeds])

    ms_high = max(grid["slo_x"]) * max(w.slo_ref_ms.values())
    rec = tune(pol, score, optimize=optimize, batch=batch, budget=budget, seed=seed,
               ms_high=ms_high)
    return (w.key, hw, pol), rec


def _eval_task(task):
    kind, args = task
    if kind == "held-out":
        shift, design, hw, w, pol, params, seeds, grid = args
        return [{"shift": shift, "workload": w.name, "arrival": w.arrival, "hardware": hw,
                 "policy": pol, "seed": s,
                 **seed_scores(design, w, pol, params, seed=s, **grid)} for s in seeds]
    if kind == "ablation":
        design, name, w, params, seeds, grid = args
        return _ablation.variant_scores(design, name, w, params, seeds=seeds, grid=grid)
    if kind == "co-design":
        base, ws, joint, kw = args
        return _codesign.search(base, ws, joint=joint, **kw)
    design, hw, pol, ws, params, kw = args  # a fixed baseline design
    score = sum(_codesign.score(design, [w], pol, params[w.key], **kw) for w in ws) / len(ws)
    return [{"search": "fixed baseline", "trial": -1, "satisfaction": score,
             "held_out": score, "area_mm2": area_breakdown(design)["total"],
             "feasible": True, "on_front": False, "params": {"policy": pol, "hardware": hw}}]


def plan(config: ReproConfig) -> dict:
    """Tasks per section (what ``on_step(section)`` counts)."""
    n_work = (len(config.models) + bool(config.tenants)) * len(config.arrivals)
    n_pol = len(config.policy_names())
    combos = n_work * 2 * n_pol
    rl = rl_scope(config)
    return {"tuning": combos,
            "held-out": combos + (len(rl[1]) * len(config.arrivals) if rl else 0),
            "sensitivity": len(config.exit_shifts) * combos,
            "ablation": len(_ablation.VARIANTS) * n_work,
            "co-design": 2 + 2 * (n_pol - 1)}


def reproduce(config: ReproConfig, *, optimize, on_step: Callable[[str], None] | None = None,
              map_fn=map) -> Reproduction:
    """Run every section of the reproduction.  ``optimize`` is ``dse.search.optimize``;
    ``map_fn(fn, tasks)`` runs independent tasks (default: in order, here; the CLI passes
    a process pool's ``map``); ``on_step(section)`` is called as each task completes."""
    step = on_step or (lambda section: None)
    policies = config.policy_names()
    rl = rl_scope(config)
    designs = _designs(config)
    fluid_hw = designs[FLUID_HW]
    batch = fluid_hw.max_batch
    workloads = _workloads(config, list(designs.values()), fluid_hw)
    out = Reproduction(config, {k: area_breakdown(d) for k, d in designs.items()},
                       _held_equal(workloads, batch) + ([rl[2]] if rl else []))
    grid = dict(loads=config.loads, slo_x=config.slo_x, n_requests=config.n_requests)
    tseeds = tuning_seeds(config.seed, config.tuning_runs)
    held = held_out_seeds(config.seed, config.held_out)

    t0 = time.perf_counter()
    tuned, tuning_rows = {}, []
    tasks = [(d, hw, w, pol, batch, config.budget, config.seed, tseeds, grid, optimize)
             for w in workloads for hw, d in designs.items() for pol in policies]
    for (key, hw, pol), rec in map_fn(_tune_task, tasks):
        step("tuning")
        tuned[key, hw, pol] = rec["params"]
        name, arrival = key.split("/")
        tuning_rows.append({"workload": name, "arrival": arrival, "hardware": hw,
                            "policy": pol, "samples_in_flight": samples_in_flight(
                                pol, rec["params"], designs[hw].max_batch),
                            "score": rec["score"],
                            "default_score": rec["default_score"], "trials": rec["trials"],
                            "params": _text(rec["params"])})
    out.tuning = pd.DataFrame(tuning_rows)
    out.seconds["tuning"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tasks = _codesign_tasks(config, fluid_hw, designs, workloads, tuned, optimize, tseeds,
                            held)
    sens = held_out_seeds(config.seed, config.sensitivity_seeds)
    for shift, ws, seeds in [("none", workloads, held)] + [
            (f"{x:+g}", _workloads(config, list(designs.values()), fluid_hw, x), sens)
            for x in config.exit_shifts]:
        tasks += [("held-out", (shift, d, hw, w, pol, tuned[w.key, hw, pol], seeds, grid))
                  for w in ws for hw, d in designs.items() for pol in policies]
        if rl and shift == "none":
            tasks += [("held-out", (shift, d, hw, w, RL, rl[0], seeds, grid))
                      for w in ws for hw, d in designs.items() if (w.name, hw) in rl[1]]
    abl = held_out_seeds(config.seed, config.ablation_seeds)
    tasks += [("ablation", (fluid_hw, name, w, tuned[w.key, FLUID_HW, "fluid"], abl, grid))
              for name, _, _ in _ablation.VARIANTS for w in workloads]
    rows, abl_rows, cd_rows = [], [], []
    for (kind, args), result in zip(tasks, map_fn(_eval_task, tasks), strict=True):
        section = "sensitivity" if kind == "held-out" and args[0] != "none" else kind
        step(section if kind != "fixed" else "co-design")
        {"held-out": rows, "ablation": abl_rows}.get(kind, cd_rows).extend(result)
    out.seconds["evaluation"] = time.perf_counter() - t0

    out.records = pd.DataFrame(rows)
    nominal = out.records[out.records["shift"] == "none"]
    out.summary = summarize(nominal, ["workload", "arrival", "hardware", "policy"])
    # tables over several workloads compare the policies that ran on every workload
    everywhere = out.records[out.records["policy"] != RL]
    out.ratios = pd.concat([
        _ratios(nominal, [["workload", "arrival"]], [*policies, RL] if rl else policies),
        _ratios(everywhere[everywhere["shift"] == "none"], [["arrival"], []], policies)],
        ignore_index=True)
    out.sensitivity = _ratios(everywhere, [["shift", "arrival"], ["shift"]], policies)
    out.ranking = summarize(everywhere, ["shift", "hardware", "policy"])
    models = list(dict.fromkeys(s.model for w in workloads for s in w.scenario.streams))
    sat = pd.DataFrame(abl_rows)
    out.ablation = {"variants": _ablation.variants_table(fluid_hw, models),
                    "utilisation": _ablation.utilisation_table(fluid_hw, models),
                    "satisfaction": summarize(sat, ["variant", "arrival"]), "records": sat}
    out.codesign = pd.DataFrame(cd_rows)
    out.codesign["params"] = out.codesign["params"].map(_text)
    return out


def _text(params: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in params.items())


def _held_equal(workloads, batch: int) -> list[str]:
    load, slo, spikes = {}, {}, {}
    for w in workloads:
        load[w.name] = float(w.scenario.rates_rps().sum())
        slo.update({m: v for m, v in w.slo_ref_ms.items()})
        for s in w.scenario.streams:
            if s.arrival == "spikes":
                spikes[f"{w.name}/{s.name}"] = s.params
    lines = held_equal(batch=batch, load_rps=load, slo_ms=slo,
                       reference="the fluid hardware, the faster variant", spikes=spikes)
    lines[2] = ("SLO targets: the multiples slo_x of these isolated batch-1 latencies on the "
                "fluid hardware, absolute ms for every variant: " + lines[2].split(": ", 1)[1])
    return lines


def _ratios(records: pd.DataFrame, scopes, policies) -> pd.DataFrame:
    baselines = [p for p in policies if p != "fluid"]
    target = {"hardware": FLUID_HW, "policy": "fluid"}
    parts = []
    for by in scopes:
        for label, hw in (("best baseline, conventional hardware", CONVENTIONAL),
                          ("best baseline, same hardware", FLUID_HW)):
            parts.append(versus(records, by, target=target,
                                rivals={"hardware": hw, "policy": baselines}, label=label))
    return pd.concat(parts, ignore_index=True)


def _codesign_tasks(config, fluid_hw, designs, workloads, tuned, optimize, tseeds,
                    held) -> list:
    ws = [w for w in workloads if w.name == config.codesign_model]
    grid = dict(loads=config.loads, slo_x=config.slo_x, n_requests=config.n_requests)
    kw = dict(optimize=optimize, budget_mm2=config.area_budget_mm2, batch=fluid_hw.max_batch,
              trials=config.codesign_trials, seeds=tseeds, held_out=held, seed=config.seed,
              **grid)
    tasks = [("co-design", (fluid_hw, ws, joint, kw)) for joint in (True, False)]
    fixed = [_codesign.with_exits(w, _codesign.default_exits(ws)) for w in ws]
    for hw, design in designs.items():
        tasks += [("fixed", (design, hw, pol, fixed,
                             {w.key: tuned[w.key, hw, pol] for w in ws},
                             dict(seeds=held, **grid)))
                  for pol in config.policy_names() if pol != "fluid"]
    return tasks
