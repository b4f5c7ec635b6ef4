"""``dse simulate`` and ``dse policies``: the scheduler simulator (the workload flags and
their checks are shared with ``dse compare``)."""

from __future__ import annotations

import math

from dse.cli._common import flags, fmt, json_safe, print_json, warn
from dse.common import InputError, check_choice, check_float, check_requests, check_seed
from dse.common.limits import MAX_RATE_RPS, MAX_TIME_MS, MIN_RATE_RPS


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "simulate", help="simulate one design + workload + scheduling policy",
        description="Simulate an NPU design serving a workload under a scheduling policy. "
                    "Give one stream (--model, --rate, --slo-ms) or a --scenario file.")
    _workload_args(s, single_required=True)
    s.add_argument("--policy", help="scheduling policy (see `dse policies`; default: the "
                                    "design file's [policy])")
    s.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="policy parameter, repeatable (see `dse policies`); overrides the "
                        "design file's")
    s.add_argument("--requests", type=int, default=20000, help="requests (default 20000)")
    s.add_argument("--warmup", type=float, default=0.1,
                   help="share of the first requests excluded from metrics (default 0.1)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_simulate)

    p = subparsers.add_parser("policies", help="list scheduling policies and parameters",
                              description="List the registered scheduling policies, their "
                                          "parameters, defaults and search ranges.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_policies)


def _arrival_names() -> list[str]:
    from workloads import ARRIVALS

    return [a for a in ARRIVALS if a != "trace"]


def _workload_args(p, *, single_required: bool) -> None:
    p.add_argument("--npu", required=True, metavar="DESIGN.toml|.json",
                   help="design file ([npu] table; an exported design works too)")
    p.add_argument("--scenario", metavar="FILE.toml", help="scenario file ([scenario] table)")
    p.add_argument("--model", help="model of a single stream (zoo name or model file)")
    rate_help = "mean request rate (requests/s)" + (
        "" if single_required else "; default: the design's batch capacity")
    p.add_argument("--rate", type=float, help=rate_help)
    p.add_argument("--slo-ms", type=float, help="SLO of the stream (ms)"
                   + ("" if single_required else "; default 5x the isolated latency"))
    p.add_argument("--arrival", default="poisson", metavar="PROCESS",
                   help="arrival process of the single stream (default poisson; "
                        "`dse workloads arrivals` lists them)")
    p.add_argument("--exit-probs", metavar="P1,P2,...",
                   help="share of requests leaving at each exit (sums to 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trace (default 0)")


# --- shared checks ------------------------------------------------------------------------

def _exit_probs(text: str | None, model: str) -> list[float] | None:
    from workloads import get_model

    if text is None:
        return None
    try:
        probs = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"expected comma-separated numbers, got '{text}'",
                         field="--exit-probs") from None
    n = get_model(model).n_exits
    if len(probs) != n:
        raise InputError(f"{model} has {n} exits, got {len(probs)} probabilities",
                         field="--exit-probs")
    if any(not math.isfinite(p) or p < 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-6:
        raise InputError(f"probabilities must be >= 0 and sum to 1 (sum {sum(probs):.6g})",
                         field="--exit-probs")
    return probs


def _check_workload_args(args, *, single_required: bool) -> None:
    if args.scenario and args.model:
        raise InputError("give either --scenario or --model, not both", field="--scenario")
    if not args.scenario and not args.model:
        raise InputError("give --scenario FILE.toml or --model NAME", field="--model")
    if args.scenario:
        for flag, val in (("--rate", args.rate), ("--slo-ms", args.slo_ms),
                          ("--exit-probs", args.exit_probs)):
            if val is not None:
                raise InputError(f"{flag} applies to --model; set it in the scenario file",
                                 field=flag)
    else:
        from workloads import get_model

        get_model(args.model)
        check_choice(args.arrival, _arrival_names(), field="--arrival",
                     what="arrival process")
        if single_required:
            for flag, val in (("--rate", args.rate), ("--slo-ms", args.slo_ms)):
                if val is None:
                    raise InputError("required with --model", field=flag)
        if args.rate is not None:
            check_float(args.rate, field="--rate", low=MIN_RATE_RPS, high=MAX_RATE_RPS,
                        allowed=f"{MIN_RATE_RPS:g}..{MAX_RATE_RPS:g} requests/s")
        if args.slo_ms is not None:
            check_float(args.slo_ms, field="--slo-ms", low=0.0, low_open=True,
                        high=MAX_TIME_MS, allowed=f"(0, {MAX_TIME_MS:g}] ms")
    check_seed(args.seed, field="--seed")


def _check_requests(n) -> None:
    check_requests(n, field="--requests")


def _split_pairs(pairs, allowed=None) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected K=V, got '{pair}'", field="--param",
                             allowed=allowed or None)
        out.append((key.strip(), value.strip()))
    return out


def _parse_params(pairs, policy, base: dict | None = None) -> dict:
    out = dict(base or {})
    out.update(_split_pairs(pairs, list(policy.params)))
    return policy.resolve(out, source="--param")


def _compare_params(policies, given: dict) -> dict:
    """``dse compare --param K=V``: each policy gets the pairs it declares; a K no
    compared policy declares is an error."""
    from dse.sim import get_policy

    pols = [get_policy(n) for n in policies]
    for key in given:
        if not any(key in p.params for p in pols):
            raise InputError(f"no compared policy has a parameter '{key}'", field="--param",
                             allowed=sorted({k for p in pols for k in p.params}))
    return {p.name: p.resolve({k: v for k, v in given.items() if k in p.params},
                              source="--param") for p in pols}


# --- dse simulate -------------------------------------------------------------------------

def _simulate(args) -> int:
    from dse.report import read_npu
    from dse.sim import get_policy

    design, stored, stored_params = read_npu(args.npu)
    if args.policy is None and stored is None:
        raise InputError(f"{args.npu} has no [policy]: give --policy NAME", field="--policy")
    policy = get_policy(args.policy or stored)
    base = stored_params if policy.name == stored else {}
    params = _parse_params(args.param, policy, base)
    with flags(model="--param model"):
        policy.check_files(params)
    _check_requests(args.requests)
    _check_workload_args(args, single_required=True)
    if not (0.0 <= args.warmup < 1.0):
        raise InputError(f"must be in [0, 1), got {args.warmup}", field="--warmup")
    from dse.cli._common import prepare_kernels
    from dse.evaluation import evaluate
    from dse.experiments import single_stream

    if args.scenario:
        from workloads import load_scenario

        scenario = load_scenario(args.scenario)
    else:
        scenario = single_stream(args.model, rate_rps=args.rate, slo_ms=args.slo_ms,
                                 arrival=args.arrival,
                                 exit_profile=_exit_probs(args.exit_probs, args.model))
    prepare_kernels([policy.name])  # after the workload's checks: an error is one line
    with flags(model="--param model"):
        ev = evaluate(design, scenario, policy.name, params, n_requests=args.requests,
                      seed=args.seed, warmup=args.warmup)
    warn(ev.warnings)
    if args.json:
        print_json(json_safe(ev.metrics), indent=2)
        return 0
    m = ev.metrics
    params = " ".join(f"{k}={v}" for k, v in ev.params.items())
    print(f"policy {policy.name} {params}".rstrip())
    print(f"{args.requests} requests, seed {args.seed}, warm-up {args.warmup:g}; "
          f"simulated in {m['sim_seconds'] * 1e3:.1f} ms "
          f"({m['requests_per_second']:,.0f} requests/s); area {m['area_mm2']:.3f} mm2")
    _print_streams(m, scenario)
    return 0


def _print_streams(m: dict, scenario) -> None:
    """One row per stream and one overall, a column per simulation metric."""
    from dse.metrics import simulation_metrics

    cols = simulation_metrics()
    width = max(8, *(len(s.name) for s in scenario.streams))
    print(f"{'stream':<{width}} " + " ".join(f"{c.label:>8}" for c in cols))
    rows = [(name, m["streams"][name]) for name in m["streams"]] + [("overall", m["overall"])]
    for name, row in rows:
        print(f"{name:<{width}} " + " ".join(f"{fmt(row[c.name], c.fmt):>8}" for c in cols))


# --- dse policies -------------------------------------------------------------------------

def _policies(args) -> int:
    from dse.sim import LEARNED, POLICIES

    if args.json:
        out = [{"name": p.name, "summary": p.summary, "reconstruction": p.reconstruction,
                "instances_param": p.instances_param or None,
                "learned": p.runner is not None,
                "params": [{"name": q.name, "kind": q.kind, "default": q.default,
                            "low": q.low, "high": q.high, "log": q.log, "doc": q.doc}
                           for q in p.params.values()]}
               for p in [*POLICIES.values(), *LEARNED.values()]]
        print_json(out, indent=2)
        return 0
    for p in [*POLICIES.values(), *LEARNED.values()]:
        mark = " (our reconstruction)" if p.reconstruction else ""
        print(f"{p.name}{mark}: {p.summary}")
        for q in p.params.values():
            rng = "(path)" if q.kind == "file" else f"{q.low}..{q.high}" + (
                " log" if q.log else "")
            print(f"    {q.name:<20} {q.kind:<5} default {q.default!s:<6} range {rng:<12} "
                  f"{q.doc}")
    return 0
