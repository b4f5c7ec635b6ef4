"""``dse rl train`` and ``dse rl eval``: BCEdge's learned scheduler (optional extra ``rl``)."""

from __future__ import annotations

import sys
import time

from dse.cli._common import flags, fmt, json_safe, print_json
from dse.common import InputError


def register(subparsers) -> None:
    rl = subparsers.add_parser(
        "rl", help="train and evaluate BCEdge's learned scheduler (extra 'rl')",
        description="BCEdge's max-entropy RL scheduler: train a SAC agent on a design and "
                    "scenario, then compare it with the kernel policies.  Needs the "
                    "optional extra: pip install -e '.[rl]'.")
    sub = rl.add_subparsers(dest="rl_command", metavar="COMMAND",
                            parser_class=subparsers._parser_class)
    t = sub.add_parser("train", help="train a SAC agent, write policy.zip",
                       description="Train BCEdge's max-entropy agent (stable-baselines3 "
                                   "SAC) on the design and scenario; deterministic for a "
                                   "seed.  Use the result with `dse simulate --policy "
                                   "bcedge-rl --param model=FILE`.")
    _common(t)
    t.add_argument("--steps", type=int, default=20000,
                   help="decisions to train for (default 20000)")
    t.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    t.add_argument("--out", required=True, metavar="POLICY.zip", help="policy file to write")
    t.add_argument("--requests", type=int, default=2000,
                   help="requests per training episode (default 2000)")
    t.add_argument("--max-batch", type=int, default=8,
                   help="samples in flight, split among the instances (default 8)")
    t.add_argument("--max-instances", type=int, default=4,
                   help="most concurrent instances (array slices) the agent may pick "
                        "(default 4)")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="a trained policy vs bcedge, static, adaptive, fluid",
                       description="Utility, SLO attainment and throughput of a trained "
                                   "policy and of bcedge, static, adaptive and fluid on "
                                   "held-out trace seeds, with 95%% t intervals over seeds.")
    _common(e)
    e.add_argument("--model", required=True, metavar="POLICY.zip",
                   help="policy file written by `dse rl train`")
    e.add_argument("--seeds", type=int, default=5,
                   help="held-out trace seeds 0..N-1 (default 5)")
    e.add_argument("--requests", type=int, default=5000,
                   help="requests per trace (default 5000)")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(func=_eval)
    rl.set_defaults(func=lambda args: rl.print_help() or 2)


def _common(p) -> None:
    p.add_argument("--npu", required=True, metavar="DESIGN.toml|.json",
                   help="design file ([npu] table; an exported design works too)")
    p.add_argument("--scenario", required=True, metavar="FILE.toml",
                   help="scenario file ([scenario] table)")


def _load(args):
    from dse.report import read_npu
    from dse.sim.policies.bcedge_rl import require_rl
    from workloads import load_scenario

    require_rl()
    return read_npu(args.npu)[0], load_scenario(args.scenario)


def _positive(value: int, flag: str) -> None:
    if value < 1:
        raise InputError(f"must be >= 1, got {value}", field=flag)


def _train(args) -> int:
    from tqdm import tqdm

    from dse.cli._common import prepare_kernels

    for flag, v in (("--steps", args.steps), ("--requests", args.requests),
                    ("--max-batch", args.max_batch), ("--max-instances", args.max_instances)):
        _positive(v, flag)
    if args.seed < 0:
        raise InputError(f"must be >= 0, got {args.seed}", field="--seed")
    design, scenario = _load(args)
    from dse.rl.env import env_settings
    from dse.rl.train import train

    with flags(max_batch="--max-batch", max_instances="--max-instances",
               requests="--requests", out="--out", steps="--steps"):
        settings = env_settings(design, scenario, max_batch=args.max_batch,
                                max_instances=args.max_instances, requests=args.requests)
    prepare_kernels(["bcedge-rl"])
    t0 = time.perf_counter()
    with tqdm(total=args.steps, desc="train", unit="step", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar, flags(out="--out", steps="--steps"):
        train(design, scenario, args.out, steps=args.steps, seed=args.seed,
              settings=settings, on_step=lambda n: bar.update(n - bar.n))
    print(f"trained SAC for {args.steps} decisions (seed {args.seed}, instances "
          f"{settings['instances']}, max batch {settings['max_batch']}) in "
          f"{time.perf_counter() - t0:.0f} s: {args.out}")
    return 0


def _eval(args) -> int:
    from tqdm import tqdm

    from dse.cli._common import prepare_kernels

    _positive(args.seeds, "--seeds")
    _positive(args.requests, "--requests")
    design, scenario = _load(args)
    from dse.rl.train import BASELINES, evaluate_agent
    from dse.sim import get_policy

    with flags(model="--model"):
        get_policy("bcedge-rl").check_files({"model": args.model})
    prepare_kernels(["bcedge-rl", *BASELINES])
    total = args.seeds * (len(BASELINES) + 1)
    with tqdm(total=total, desc="eval", unit="run", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar, flags(model="--model"):
        res = evaluate_agent(design, scenario, args.model, seeds=range(args.seeds),
                             n_requests=args.requests, on_run=bar.update)
    if args.json:
        print_json(json_safe(res), indent=2)
        return 0
    print(f"{scenario.name} on {args.npu}: {args.requests} requests x seeds "
          f"0..{args.seeds - 1}; mean [95% t interval over seeds]")
    cols = (("utility", "utility", ".3f"), ("slo_attainment", "SLO attainment", ".3f"),
            ("throughput_rps", "throughput/s", ".1f"))
    print(f"{'policy':<10} " + " ".join(f"{label:>24}" for _, label, _ in cols))
    for name, row in res["policies"].items():
        cells = [f"{fmt(row[k]['mean'], f)} [{fmt(row[k]['ci_low'], f)}, "
                 f"{fmt(row[k]['ci_high'], f)}]" for k, _, f in cols]
        print(f"{name:<10} " + " ".join(f"{c:>24}" for c in cells))
    return 0
