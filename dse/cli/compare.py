"""``dse compare``: every policy on one design across loads, capacity-fair, defaults or
tuned (``--tune``), with the exit profile optionally shifted (``--exit-shift``)."""

from __future__ import annotations

import math
import sys

from dse.cli._common import Deferred, flags, fmt, int_at_least, json_safe, print_json, warn
from dse.cli.sim import (
    _check_requests,
    _check_workload_args,
    _compare_params,
    _exit_probs,
    _split_pairs,
    _workload_args,
)
from dse.common import InputError


def _default_loads() -> str:
    from dse.experiments import LOADS

    return ",".join(str(x) for x in LOADS)


def _default_budget() -> str:
    from dse.experiments import TUNE_BUDGET

    return str(TUNE_BUDGET)


def register(subparsers) -> None:
    c = subparsers.add_parser(
        "compare", help="every policy on one design across loads (table + HTML figure)",
        description="Evaluate every policy on the same design and traces across load "
                    "levels, for Poisson and spiking arrivals (or a --scenario file), with "
                    "the same samples in flight for every policy; load 1.0 is the design's "
                    "best sustainable throughput with the exit profile.  Print a table of "
                    "SLO attainment and write a plotly figure of SLO attainment vs load.")
    _workload_args(c, single_required=False)
    c.add_argument("--loads", default=Deferred(_default_loads),
                   help="load factors: multiples of the load-1.0 rate (default: %(default)s)")
    c.add_argument("--policies", default="all",
                   help="comma-separated policies (default: every kernel policy, plus "
                        "learned ones whose file --param gives)")
    c.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="parameter of every compared policy that declares K, repeatable "
                        "(e.g. model=policy.zip for bcedge-rl); not with --tune")
    c.add_argument("--requests", type=int, default=10000, help="requests per run (default 10000)")
    c.add_argument("--batch", type=int_at_least(1), metavar="B",
                   help="samples in flight for every batching policy (default: the design's "
                        "max_batch)")
    c.add_argument("--tune", action="store_true",
                   help="tune every policy's parameters on tuning seeds first (TPE), then "
                        "report held-out seeds with 95%% confidence intervals")
    c.add_argument("--budget", type=int_at_least(1), metavar="N",
                   default=Deferred(_default_budget),
                   help="tuning trials per policy and workload (default %(default)s)")
    c.add_argument("--seeds", type=int_at_least(1), metavar="K",
                   help="held-out seeds --seed.. (default 1; 5 with --tune)")
    c.add_argument("--exit-shift", type=float, metavar="S",
                   help="move every exit profile later (S > 0, 1 = no early exits) or "
                        "earlier (S < 0, -1 = all at the first exit)")
    c.add_argument("--out", default="compare.html", help="HTML figure (default compare.html)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(func=_compare)


def _parse_loads(text) -> list[float]:
    try:
        loads = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"expected comma-separated numbers, got '{text}'",
                         field="--loads") from None
    if not loads or any(not math.isfinite(x) or x <= 0 for x in loads):
        raise InputError("load factors must be > 0", field="--loads")
    return loads


def _workloads(args, design):
    from dse.experiments import model_workloads, scenario_workloads
    from workloads import get_model, load_scenario, shift_profile

    shift = args.exit_shift
    if args.scenario:
        scenario = load_scenario(args.scenario)
        if shift is not None:
            with flags(exit_shift="--exit-shift"):
                scenario = scenario.with_exit_shift(shift)
        return scenario_workloads(design, scenario, batch=args.batch)
    profile = _exit_probs(args.exit_probs, args.model)
    if shift is not None:
        with flags(exit_shift="--exit-shift"):
            profile = list(shift_profile(profile or get_model(args.model).exit_profile, shift))
    return model_workloads(design, args.model, rate_rps=args.rate, slo_ms=args.slo_ms,
                           arrival=args.arrival, exit_profile=profile, batch=args.batch)


def _compare(args) -> int:
    from dse.cli._common import prepare_kernels
    from dse.report import read_npu
    from dse.sim import LEARNED, POLICIES, get_policy

    _check_requests(args.requests)
    pairs = dict(_split_pairs(args.param))
    if pairs and args.tune:
        raise InputError("applies without --tune (tuning searches the parameters)",
                         field="--param")
    policies = [*POLICIES, *(n for n, p in LEARNED.items() if all(
        k in pairs for k, q in p.params.items() if q.kind == "file"))] \
        if args.policies == "all" else [n.strip() for n in args.policies.split(",")
                                        if n.strip()]
    with flags(policy="--policies"):
        params = _compare_params(policies, pairs)
    with flags(model="--param model"):
        for name in policies:
            get_policy(name).check_files(params[name])
    learned = [n for n in policies if n in LEARNED]
    if learned and (args.tune or args.batch is not None):
        raise InputError(f"{', '.join(learned)} chooses its own batches (the design's "
                         "max_batch in flight): compare it without --tune and --batch",
                         field="--policies")
    given = not isinstance(args.budget, Deferred)
    if given and not args.tune:
        raise InputError("applies with --tune", field="--budget")
    # the defaults of --loads and --budget and the workload check load the experiments and
    # the model zoo (NumPy): after the checks above, which need neither
    loads = _parse_loads(str(args.loads))
    budget = args.budget if given else int(str(args.budget))
    _check_workload_args(args, single_required=False)
    design = read_npu(args.npu)[0]
    if args.batch is not None and args.batch > design.max_batch:
        raise InputError(f"must be <= the design's max_batch ({design.max_batch})",
                         field="--batch")
    workloads, base_rate = _workloads(args, design)
    from tqdm import tqdm

    from dse.experiments import compare, tuned_compare
    from dse.report import write_compare_figure

    with flags(policy="--policies"):
        prepare_kernels(policies)
    seeds = args.seeds or (5 if args.tune else 1)
    total = len(workloads) * len(policies) * len(loads) * seeds
    if args.tune:
        total += len(workloads) * len(policies) * budget
    with tqdm(total=total, desc="compare", unit="run", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar, \
            flags(policy="--policies", batch="--batch"):
        if args.tune:
            from dse.search import optimize

            result = tuned_compare(design, workloads, optimize=optimize, policies=policies,
                                   loads=loads, n_requests=args.requests, seed=args.seed,
                                   budget=budget, held_out=seeds, batch=args.batch,
                                   base_rate_rps=base_rate, on_run=bar.update)
        else:
            result = compare(design, workloads, policies=policies, loads=loads,
                             n_requests=args.requests, seed=args.seed,
                             seeds=range(args.seed, args.seed + seeds),
                             base_rate_rps=base_rate, batch=args.batch, params=params,
                             on_run=bar.update)
    warn(result.warnings)
    with flags(out="--out"):
        write_compare_figure(result, args.out, design=design,
                             workload=args.model or args.scenario)
    if args.json:
        print_json(json_safe({
            "base_rate_rps": base_rate, "batch": result.batch, "seeds": result.seeds,
            "held_equal": result.held_equal, "params": result.params,
            "tuning": result.tuning, "figure": args.out, "runs": result.runs}), indent=2)
        return 0
    _print(result, loads, args)
    return 0


def _print(result, loads, args) -> None:
    print("held equal:")
    for line in result.held_equal:
        print(f"  {line}")
    ci = len(result.seeds) > 1
    width = 25 if ci else 15
    for wname in result.workloads:
        what = "mean SLO attainment [95% CI over seeds]" if ci else "SLO attainment"
        print(f"\n{wname}: {what} (p95 latency ms) by load")
        print(f"{'policy':<10} " + " ".join(f"{x:>{width}g}" for x in loads))
        for name in result.policies:
            cells = []
            for load in loads:
                r = result.run(wname, load, name)
                cell = f"{r['slo_attainment']:.3f}"
                if ci:
                    lo, hi = r["slo_attainment_ci"]
                    cell += f" [{fmt(lo, '.2f')},{fmt(hi, '.2f')}]"
                cells.append(f"{cell} ({fmt(r['p95_latency_ms'], '.1f')})")
            print(f"{name:<10} " + " ".join(f"{c:>{width}}" for c in cells))
        if result.tuning:
            print("tuned parameters:")
            for name in result.policies:
                rec = result.tuning[wname][name]
                p = " ".join(f"{k}={fmt(v, '.4g')}" for k, v in rec["params"].items())
                print(f"  {name:<10} {p or '(none)'}  (tuning score {rec['score']:.3f}, "
                      f"defaults {rec['default_score']:.3f})")
    print(f"\nfigure: {args.out}")
