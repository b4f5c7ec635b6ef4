"""``dse reproduce``: the Fluid Batching paper's comparison, hardware ablation, co-design
and exit-profile sensitivity, capacity-fair and tuned (``dse.experiments.reproduce``)."""

from __future__ import annotations

import math
import sys

from dse.cli._common import flags, int_at_least


def register(subparsers) -> None:
    r = subparsers.add_parser(
        "reproduce", help="reproduce the Fluid Batching comparison (tables + figures)",
        description="Fluid batching + stackable PEs + the exit-aware fluid scheduler "
                    "against every tuned baseline on conventional and on the same "
                    "hardware (Poisson and spiking load, several early-exit models and a "
                    "multi-tenant mix), plus the hardware ablation, the co-design fronts "
                    "and the sensitivity to the exit profile.  Writes markdown and CSV "
                    "tables and plotly figures into --out.")
    r.add_argument("--quick", action="store_true",
                   help="a small run (one model plus the tenant mix, few seeds and trials)")
    r.add_argument("--out", default="reproduction", metavar="DIR",
                   help="output folder (default reproduction)")
    r.add_argument("--workers", type=int_at_least(1), default=1, metavar="N",
                   help="worker processes (default 1)")
    r.add_argument("--seed", type=int_at_least(0), default=0,
                   help="first held-out seed (default 0)")
    r.add_argument("--policies", default="all",
                   help="comma-separated policies compared (default all registered; fluid "
                        "is always included)")
    r.add_argument("--rl-model", metavar="POLICY.zip",
                   help="also compare this trained bcedge-rl agent (`dse rl train` with "
                        "--npu set to the reproduction's design and --max-batch to its "
                        "samples in flight), untuned, on the workloads of the models it "
                        "was trained for (extra 'rl')")
    r.set_defaults(func=_reproduce)


def _reproduce(args) -> int:
    import shlex
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from dse.experiments.reproduce import ReproConfig, plan, reproduce
    from dse.report import write_reproduction
    from dse.search import optimize

    policies = None if args.policies == "all" else tuple(
        n.strip() for n in args.policies.split(",") if n.strip())
    config = (ReproConfig.quick if args.quick else ReproConfig)(
        seed=args.seed, policies=policies, rl_model=args.rl_model)
    with flags(policy="--policies", rl_model="--rl-model"):
        steps = plan(config)
    command = " ".join(["dse reproduce", *(["--quick"] if args.quick else []),
                        *([f"--seed {args.seed}"] if args.seed else []),
                        *([f"--policies {args.policies}"] if policies else []),
                        *([f"--rl-model {shlex.quote(args.rl_model)}"] if args.rl_model
                          else []),
                        f"--out {shlex.quote(args.out)}"])
    with tqdm(total=sum(steps.values()), desc="reproduce", unit="task", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        def step(section):
            bar.set_postfix_str(section)
            bar.update()

        if args.workers > 1:
            with ProcessPoolExecutor(args.workers) as pool:
                rep = reproduce(config, optimize=optimize, on_step=step,
                                map_fn=lambda fn, tasks: pool.map(fn, tasks))
        else:
            rep = reproduce(config, optimize=optimize, on_step=step)
    with flags(out="--out"):
        paths = write_reproduction(rep, args.out, command=command)
    print("held equal:")
    for line in rep.held_equal:
        print(f"  {line}")
    print("\nfluid on fluid hardware against the best tuned baseline (held-out seeds, "
          "95% CI):")
    overall = rep.ratios[rep.ratios["workload"].isna()]
    for r in overall.itertuples():
        scope = "all" if not isinstance(r.arrival, str) else r.arrival
        print(f"  {scope:<8} {r.metric:<8} {r.target:.3f} vs {r.rival:.3f} ({r.best_rival}): "
              f"ratio {_num(r.ratio)} [{_num(r.ratio_lo)}, {_num(r.ratio_hi)}], difference "
              f"{r.difference:+.3f} [{r.difference_lo:+.3f}, {r.difference_hi:+.3f}]"
              f"  -- {r.versus}")
    print(f"\nrun time: {sum(rep.seconds.values()):.0f} s; wrote {len(paths)} files into "
          f"{args.out} (results.md, CSV tables, figures)")
    return 0


def _num(v: float) -> str:
    return "inf" if math.isinf(v) else ("-" if math.isnan(v) else f"{v:.2f}")
