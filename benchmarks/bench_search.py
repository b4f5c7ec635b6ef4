"""Search benchmarks: (a) search quality against an exhaustive grid, (b) throughput.

Usage: python3 benchmarks/bench_search.py [--part a|b|both] [--problem two-stream|smart-home]
                                          [--seeds 5] [--requests 2000] [--trials 600]
                                          [--workers 2] [--json OUT.json]

(a) Search quality.  A 960-design space (PE count x PE width x batching x stacking x the
    fluid scheduler's max batch and refill level) of a bursty two-stream scenario.  Every
    design is evaluated once (``--requests`` per trial, cached in memory), giving the true
    Pareto front of SLO attainment vs area by exhaustive grid.  Each sampler then runs the
    real study objective (``dse.search.Objective``, answers served from the cache) until it
    holds 5% and 10% of the grid's size in complete trials (trials *used*: a trial that
    re-proposes a stored design counts, as it does against ``n_trials`` in ``dse run``),
    for ``--seeds`` seeds; the table reports the hypervolume reached divided by the true
    hypervolume (mean and min over seeds) and the share of trials that repeat a design.
    Hypervolume normalisation: each objective scaled by its range over the whole grid,
    reference point 1.1 (``dse.search._front``).  Target: nsga2 >= 98% at 10%.
    ``--problem smart-home`` runs the same comparison on a second problem: three
    objectives (SLO attainment, energy, area), the four-stream smart-home scenario at 3x
    its rates, 720 designs.

(b) Throughput.  ``dse.search.run`` with ``--workers`` local processes on a journal file,
    20,000 requests per trial, random sampler over a wide space (few repeated designs),
    no multi-fidelity; prints complete trials per second end to end (process start-up
    included) and in steady state (after each worker's first trial).  Target: >= 20/s
    with 2 workers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUALITY_SPEC = """
[study]
name = "bench-quality"
sampler = "{sampler}"
n_trials = {n_trials}
seed = {seed}
storage = "sqlite:///unused.db"
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]

[scenario]
name = "bench"
[[scenario.streams]]
name = "doorbell"
model = "resnet18"
arrival = "bursty"
rate_rps = 400
slo_ms = 40
[[scenario.streams]]
name = "pet-cam"
model = "mobilenetv2"
arrival = "poisson"
rate_rps = 500
slo_ms = 25

[fidelity]
requests = {requests}

[space.npu]
pe_count = [16, 32, 64, 128, 256]
pe_width = [8, 16, 32]
batching = ["r", "fluid"]
stack_factors = [[1], [1, 2, 4]]

[space.policy]
name = "fluid"
[space.policy.fluid]
max_batch = [2, 4, 8, 16]
refill_level = {{ low = 0.0, high = 0.75, step = 0.25 }}
"""

# A second quality problem: three objectives, four streams (the smart-home scenario of
# studies/smart_home.toml at 3x its rates), 720 designs, 70% of them at SLO attainment 0.
SMART_HOME_SPEC = """
[study]
name = "bench-quality-3obj"
sampler = "{sampler}"
n_trials = {n_trials}
seed = {seed}
storage = "sqlite:///unused.db"
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "energy_uj_per_request", direction = "minimize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]

[scenario]
name = "smart_home_3x"
[[scenario.streams]]
name = "living_room_cam"
model = "resnet50"
arrival = "bursty"
rate_rps = 270
peak_to_base = 8
mean_on_ms = 500
mean_off_ms = 2000
slo_ms = 100
priority = 1
[[scenario.streams]]
name = "voice"
model = "bert_base"
arrival = "diurnal"
rate_rps = 36
period_s = 120
amplitude = 0.9
slo_x = 3
priority = 2
[[scenario.streams]]
name = "sensors"
model = "mobilenetv2"
arrival = "periodic"
rate_rps = 180
jitter_ms = 2.0
slo_ms = 50
[[scenario.streams]]
name = "doorbell"
model = "alexnet"
arrival = "poisson"
rate_rps = 135
slo_ms = 60
exit_profile = [0.6, 0.25, 0.15]

[fidelity]
requests = {requests}

[space.npu]
pe_count = [32, 64, 128, 256, 512]
pe_width = [8, 16, 32]
stack_factors = [[1], [1, 2, 4]]
weight_sram_kib = [256, 1024]
dram_gbps = [6.4, 25.6]

[space.policy]
name = "fluid"
[space.policy.fluid]
max_batch = [4, 8, 16]
refill_level = {{ low = 0.0, high = 0.5, step = 0.5 }}
"""

PROBLEMS = {"two-stream": QUALITY_SPEC, "smart-home": SMART_HOME_SPEC}

THROUGHPUT_SPEC = """
[study]
name = "bench-throughput"
sampler = "random"
n_trials = {n_trials}
seed = 5
storage = "journal:///bench.journal"
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]

[scenario]
name = "bench"
[[scenario.streams]]
name = "doorbell"
model = "resnet18"
arrival = "bursty"
rate_rps = 150
slo_ms = 40
[[scenario.streams]]
name = "pet-cam"
model = "mobilenetv2"
arrival = "poisson"
rate_rps = 200
slo_ms = 25

[fidelity]
requests = 20000

[space.npu]
pe_count = [16, 32, 64, 128, 256, 512]
pe_width = [8, 16, 32]
tile_rows = [32, 64, 128]
batching = ["r", "p", "fluid"]
stack_factors = [[1], [1, 2], [1, 2, 4]]
weight_sram_kib = {{ low = 128, high = 4096, log = true }}

[space.policy]
name = "fluid"
[space.policy.fluid]
max_batch = {{ low = 1, high = 32 }}
refill_level = {{ low = 0.0, high = 1.0 }}
catchup_last = {{ low = 0.0, high = 1.0 }}
"""


def _spec(text: str):
    from dse.spec import parse_spec

    return parse_spec(text, source="<bench>", base=Path(tempfile.gettempdir()))


def exhaustive(requests: int, template: str = QUALITY_SPEC):
    """Evaluate every grid point once; returns (objective holding the cache, values, s)."""
    import optuna

    from dse.search import Objective, suggest_point

    spec = _spec(template.format(sampler="grid", n_trials=1, seed=0, requests=requests))
    grid = spec.space.grid()
    keys = list(grid)
    objective = Objective(spec, cache_size=10 ** 6)
    from cost_models import NpuDesign

    values = []
    t0 = time.perf_counter()
    for combo in itertools.product(*grid.values()):
        trial = optuna.trial.FixedTrial(dict(zip(keys, combo, strict=True)))
        npu, policy, params = suggest_point(trial, spec)
        design = NpuDesign.from_dict(npu)
        _, _, vals, _ = objective.measure(design, policy, params, spec.fidelity.requests)
        values.append(vals)
    seconds = time.perf_counter() - t0
    return objective, np.array(values), seconds


def run_sampler(name: str, seed: int, budget: int, requests: int, cache,
                template: str = QUALITY_SPEC) -> tuple[np.ndarray, int, int]:
    """Run sampler ``name`` as ``dse run`` does until the study holds ``budget`` complete
    trials; returns (values of the complete trials, trials used, repeated designs).

    Every trial counts, repeats included: a trial that re-proposes a stored design is
    served from the storage without simulating, but it uses up one of ``n_trials``."""
    import optuna

    from dse.search import Objective, make_sampler, run_worker

    spec = _spec(template.format(sampler=name, n_trials=budget, seed=seed,
                                 requests=requests))
    objective = Objective(spec, cache_size=10 ** 6)
    objective._cache = cache  # every answer comes from the exhaustive evaluation
    study = optuna.create_study(directions=spec.directions, sampler=make_sampler(spec))
    n_before = len(cache)
    run_worker(spec, study, n_trials=budget, objective=objective)
    assert len(cache) == n_before, "a sampled design was outside the exhaustive grid"
    trials = study.get_trials()
    seen: set = set()
    repeats = 0
    for t in trials:
        key = tuple(sorted(t.params.items()))
        repeats += key in seen
        seen.add(key)
    values = np.array([t.values for t in trials if t.state == optuna.trial.TrialState.COMPLETE])
    return values, len(trials), repeats


def part_a(seeds: int, requests: int, problem: str = "two-stream") -> dict:
    import optuna

    from dse.search._front import bounds_for, hypervolume, minimised

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    template = PROBLEMS[problem]
    objective, values, seconds = exhaustive(requests, template)
    n = len(values)
    dirs = list(objective.spec.directions)
    pts = minimised(values, dirs)
    lower, upper = bounds_for(objective.spec.metric_names, dirs, pts)
    true_hv = hypervolume(pts, lower, upper)
    print(f"(a) {problem}: grid of {n} designs evaluated in {seconds:.1f} s "
          f"({requests} requests each); true hypervolume {true_hv:.4f}")
    samplers = ["nsga2", "tpe", "random"]
    try:
        import torch  # noqa: F401

        samplers.insert(2, "gp")
    except ImportError:
        print("    (gp skipped: PyTorch not installed)")
    budgets = {"5%": round(0.05 * n), "10%": round(0.10 * n)}
    out = {"problem": problem, "designs": n, "true_hypervolume": true_hv,
           "requests": requests, "samplers": {}}
    print(f"    {'sampler':8s} " + " ".join(f"{k + ' (' + str(b) + ' trials)':>34s}"
                                            for k, b in budgets.items()))
    for name in samplers:
        row = {}
        for label, budget in budgets.items():
            ratios, used, repeats = [], 0, 0
            for seed in range(seeds):
                found, n, r = run_sampler(name, seed, budget, requests, objective._cache,
                                          template)
                hv = hypervolume(minimised(found, dirs), lower, upper)
                ratios.append(hv / true_hv)
                used += n
                repeats += r
            row[label] = {"mean": float(np.mean(ratios)), "min": float(np.min(ratios)),
                          "budget": budget, "trials": used, "repeats": repeats,
                          "repeat_share": repeats / used}
        out["samplers"][name] = row
        print(f"    {name:8s} " + " ".join(
            f"{100 * r['mean']:7.2f}% (min {100 * r['min']:6.2f}%) rep {100 * r['repeat_share']:4.1f}%"
            for r in row.values()))
    if problem == "two-stream":
        nsga = out["samplers"]["nsga2"]["10%"]["mean"]
        print(f"    target nsga2 >= 98% at 10%: {'met' if nsga >= 0.98 else 'NOT met'} "
              f"({100 * nsga:.2f}%)")
    return out


def part_b(trials: int, workers: int) -> dict:
    from dse.cli._runner import run_study

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "bench.toml"
        spec_path.write_text(THROUGHPUT_SPEC.format(n_trials=trials))
        from dse.spec import load_spec

        spec = load_spec(spec_path)
        t0 = time.perf_counter()
        res = run_study(spec, workers=workers, progress=False)
        wall = time.perf_counter() - t0
        trials_done = [t for t in res.study.get_trials() if t.state.name == "COMPLETE"]
        firsts = {}
        for t in trials_done:
            w = t.user_attrs["worker"]
            firsts[w] = min(firsts.get(w, t.datetime_complete), t.datetime_complete)
        start = max(firsts.values())
        later = [t for t in trials_done if t.datetime_complete > start]
        end = max(t.datetime_complete for t in trials_done)
        steady = len(later) / max((end - start).total_seconds(), 1e-9)
    e2e = len(trials_done) / wall
    print(f"(b) {len(trials_done)} complete trials x 20000 requests, {workers} workers, "
          f"journal storage: {e2e:.1f} trials/s end to end ({wall:.1f} s incl. start-up), "
          f"{steady:.1f} trials/s steady state; target >= 20/s: "
          f"{'met' if steady >= 20 else 'NOT met'}")
    return {"trials": len(trials_done), "workers": workers, "wall_s": wall,
            "trials_per_s_end_to_end": e2e, "trials_per_s_steady": steady}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("a", "b", "both"), default="both")
    ap.add_argument("--problem", choices=sorted(PROBLEMS), default="two-stream",
                    help="search-quality problem of part a (the target is set on two-stream)")
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)
    out = {}
    if args.part in ("a", "both"):
        out["quality"] = part_a(args.seeds, args.requests, args.problem)
    if args.part in ("b", "both"):
        out["throughput"] = part_b(args.trials, args.workers)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
