"""``dse simulate``, ``dse policies`` and ``dse compare``: the scheduler simulator."""

from __future__ import annotations

import json
import math
import sys

from dse.common import InputError

COMPARE_ARRIVALS = ("poisson", "spikes")
DEFAULT_LOADS = (0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2)


def register(subparsers) -> None:
    s = subparsers.add_parser(
        "simulate", help="simulate one design + workload + scheduling policy",
        description="Simulate an NPU design serving a workload under a scheduling policy. "
                    "Give one stream (--model, --rate, --slo-ms) or a --scenario file.")
    _workload_args(s, single_required=True)
    s.add_argument("--policy", required=True, help="scheduling policy (see `dse policies`)")
    s.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="policy parameter, repeatable (see `dse policies`)")
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

    c = subparsers.add_parser(
        "compare", help="every policy on one design across loads (table + HTML figure)",
        description="Evaluate every policy (default parameters) on the same design and "
                    "traces across load levels, for Poisson and spiking arrivals (or the "
                    "arrivals of a --scenario file); print a table and write a plotly "
                    "figure of SLO attainment vs load.")
    _workload_args(c, single_required=False)
    c.add_argument("--loads", default=",".join(str(x) for x in DEFAULT_LOADS),
                   help="load factors: multiples of --rate (default: %(default)s)")
    c.add_argument("--policies", default="all", help="comma-separated policies (default all)")
    c.add_argument("--requests", type=int, default=10000, help="requests per run (default 10000)")
    c.add_argument("--out", default="compare.html", help="HTML figure (default compare.html)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(func=_compare)


def _workload_args(p, *, single_required: bool) -> None:
    p.add_argument("--npu", required=True, metavar="NPU.toml", help="design file ([npu] table)")
    p.add_argument("--scenario", metavar="FILE.toml", help="scenario file ([scenario] table)")
    p.add_argument("--model", help="model of a single stream (zoo name or model file)")
    rate_help = "mean request rate (requests/s)" + (
        "" if single_required else "; default: the design's batch capacity")
    p.add_argument("--rate", type=float, help=rate_help)
    p.add_argument("--slo-ms", type=float, help="SLO of the stream (ms)"
                   + ("" if single_required else "; default 5x the isolated latency"))
    arrivals = _arrival_names()
    p.add_argument("--arrival", default="poisson", metavar="|".join(arrivals),
                   help="arrival process of the single stream (default poisson)")
    p.add_argument("--exit-probs", metavar="P1,P2,...",
                   help="share of requests leaving at each exit (sums to 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the trace (default 0)")


def _arrival_names() -> list[str]:
    try:
        from workloads import ARRIVALS

        return [a for a in ARRIVALS if a != "trace"]
    except ImportError:  # pragma: no cover - workloads always ships with dse
        return ["poisson"]


# --- shared helpers ---------------------------------------------------------------------

def _design(path):
    from cost_models import load_npu

    return load_npu(path)


def _exit_probs(text: str, model: str) -> list[float]:
    from workloads import get_model

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


def _single_stream(args, *, rate, slo_ms=None, slo_x=None, arrival=None):
    from workloads import Scenario

    stream = {"name": args.model, "model": args.model, "arrival": arrival or args.arrival,
              "rate_rps": rate}
    if slo_ms is not None:
        stream["slo_ms"] = slo_ms
    else:
        stream["slo_x"] = slo_x
    if args.exit_probs:
        stream["exit_profile"] = _exit_probs(args.exit_probs, args.model)
    return Scenario.from_dict({"name": args.model, "streams": [stream]},
                              source="command line")


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
        if args.arrival not in _arrival_names():
            from dse.common import did_you_mean

            raise InputError(f"unknown arrival process '{args.arrival}'"
                             f"{did_you_mean(args.arrival, _arrival_names())}",
                             field="--arrival", allowed=_arrival_names())
        if single_required:
            for flag, val in (("--rate", args.rate), ("--slo-ms", args.slo_ms)):
                if val is None:
                    raise InputError("required with --model", field=flag)
        if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
            raise InputError(f"must be > 0 requests/s, got {args.rate}", field="--rate")
        if args.slo_ms is not None and not (math.isfinite(args.slo_ms) and args.slo_ms > 0):
            raise InputError(f"must be > 0 ms, got {args.slo_ms}", field="--slo-ms")
    if args.seed < 0:
        raise InputError(f"must be >= 0, got {args.seed}", field="--seed")


def _check_requests(n) -> None:
    if n < 1:
        raise InputError(f"must be >= 1, got {n}", field="--requests")


def _parse_params(pairs, policy) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected K=V, got '{pair}'", field="--param",
                             allowed=list(policy.params) or None)
        out[key.strip()] = value.strip()
    return policy.resolve(out, source="--param")


def _json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def _warn(messages) -> None:
    for m in messages:
        print(f"dse: warning: {m}", file=sys.stderr)


# --- dse simulate -------------------------------------------------------------------------

def _simulate(args) -> int:
    from dse.evaluation import evaluate
    from dse.sim import get_policy

    policy = get_policy(args.policy)
    params = _parse_params(args.param, policy)
    _check_requests(args.requests)
    _check_workload_args(args, single_required=True)
    if not (0.0 <= args.warmup < 1.0):
        raise InputError(f"must be in [0, 1), got {args.warmup}", field="--warmup")
    design = _design(args.npu)
    if args.scenario:
        from workloads import load_scenario

        scenario = load_scenario(args.scenario)
    else:
        scenario = _single_stream(args, rate=args.rate, slo_ms=args.slo_ms)
    ev = evaluate(design, scenario, policy.name, params, n_requests=args.requests,
                  seed=args.seed, warmup=args.warmup)
    _warn(ev.warnings)
    if args.json:
        print(json.dumps(_json_safe(ev.metrics), indent=2))
        return 0
    _print_metrics(ev, scenario, policy.name, args)
    return 0


def _fmt(v, spec):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and not math.isfinite(v):
        return "-"
    return format(v, spec)


_COLUMNS = (("slo_attainment", "SLO ok", ".3f"), ("mean_latency_ms", "mean ms", ".2f"),
            ("p50_latency_ms", "p50 ms", ".2f"), ("p95_latency_ms", "p95 ms", ".2f"),
            ("p99_latency_ms", "p99 ms", ".2f"), ("throughput_rps", "tput/s", ".1f"),
            ("goodput_rps", "good/s", ".1f"), ("utilisation", "util", ".3f"),
            ("mean_batch", "batch", ".2f"), ("accuracy", "acc", ".3f"),
            ("energy_uj_per_request", "uJ/req", ".0f"), ("dropped", "dropped", "d"),
            ("unstable", "unstable", ""))


def _print_metrics(ev, scenario, policy, args) -> None:
    m = ev.metrics
    params = " ".join(f"{k}={v}" for k, v in ev.params.items())
    print(f"policy {policy} {params}".rstrip())
    print(f"{args.requests} requests, seed {args.seed}, warm-up {args.warmup:g}; "
          f"simulated in {m['sim_seconds'] * 1e3:.1f} ms "
          f"({m['requests_per_second']:,.0f} requests/s); area {m['area_mm2']:.3f} mm2")
    width = max(8, *(len(s.name) for s in scenario.streams))
    head = f"{'stream':<{width}} " + " ".join(f"{h:>8}" for _, h, _ in _COLUMNS)
    print(head)
    rows = [(name, m["streams"][name]) for name in m["streams"]] + [("overall", m["overall"])]
    for name, row in rows:
        print(f"{name:<{width}} " + " ".join(f"{_fmt(row[k], f):>8}" for k, _, f in _COLUMNS))


# --- dse policies -------------------------------------------------------------------------

def _policies(args) -> int:
    from dse.sim import POLICIES

    if args.json:
        out = [{"name": p.name, "summary": p.summary, "reconstruction": p.reconstruction,
                "instances_param": p.instances_param or None,
                "params": [{"name": q.name, "kind": q.kind, "default": q.default,
                            "low": q.low, "high": q.high, "log": q.log, "doc": q.doc}
                           for q in p.params.values()]} for p in POLICIES.values()]
        print(json.dumps(out, indent=2))
        return 0
    for p in POLICIES.values():
        mark = " (our reconstruction)" if p.reconstruction else ""
        print(f"{p.name}{mark}: {p.summary}")
        for q in p.params.values():
            rng = f"{q.low}..{q.high}" + (" log" if q.log else "")
            print(f"    {q.name:<20} {q.kind:<5} default {q.default!s:<6} range {rng:<12} "
                  f"{q.doc}")
    return 0


# --- dse compare --------------------------------------------------------------------------

def _parse_loads(text) -> list[float]:
    try:
        loads = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"expected comma-separated numbers, got '{text}'",
                         field="--loads") from None
    if not loads or any(not math.isfinite(x) or x <= 0 for x in loads):
        raise InputError("load factors must be > 0", field="--loads")
    return loads


def capacity_rps(design, model_name: str) -> float:
    """Requests/s the design sustains on ``model_name`` at its best batch size (every
    sample to the last exit): ``max over b of b / batch time``, the load-1.0 point of
    ``dse compare``."""
    from cost_models import latency_table
    from workloads import get_model

    t = latency_table(design, get_model(model_name).layers)
    batch_ms = t.ms[:, 1:].sum(axis=0)
    return float(max((b + 1) / ms for b, ms in enumerate(batch_ms))) * 1e3


def _compare(args) -> int:
    from dse.evaluation import evaluate
    from dse.sim import POLICIES, get_policy

    _check_requests(args.requests)
    _check_workload_args(args, single_required=False)
    loads = _parse_loads(args.loads)
    names = list(POLICIES) if args.policies == "all" else [
        get_policy(n.strip()).name for n in args.policies.split(",") if n.strip()]
    design = _design(args.npu)
    if args.scenario:
        from workloads import load_scenario

        workloads = {"scenario": load_scenario(args.scenario)}
        base_rate = None
    else:
        base_rate = args.rate if args.rate is not None else capacity_rps(design, args.model)
        slo = {"slo_ms": args.slo_ms} if args.slo_ms is not None else {"slo_x": 5.0}
        arrivals = COMPARE_ARRIVALS if args.arrival == "poisson" else ("poisson", args.arrival)
        workloads = {a: _single_stream(args, rate=base_rate, arrival=a, **slo)
                     for a in arrivals}
    from tqdm import tqdm

    results = []
    warned = set()
    total = len(workloads) * len(loads) * len(names)
    with tqdm(total=total, desc="compare", unit="run", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        for wname, scenario in workloads.items():
            for load in loads:
                sc = scenario.scaled(load)
                trace = sc.trace(args.requests, args.seed)  # the same trace for every policy
                for name in names:
                    ev = evaluate(design, sc, name, None, seed=args.seed, trace=trace)
                    for w in ev.warnings:
                        if w not in warned:
                            warned.add(w)
                            _warn([w])
                    o = ev.metrics["overall"]
                    results.append({"arrival": wname, "load": load, "policy": name,
                                    **{k: o[k] for k in ("slo_attainment", "mean_latency_ms",
                                                         "p95_latency_ms", "mean_batch",
                                                         "dropped", "unstable")}})
                    bar.update()
    _write_figure(results, args.out, design, base_rate, args)
    if args.json:
        print(json.dumps(_json_safe({"base_rate_rps": base_rate, "figure": args.out,
                                     "runs": results}), indent=2))
        return 0
    if base_rate is not None:
        print(f"load 1.0 = {base_rate:.1f} requests/s on {args.model}")
    for wname in workloads:
        print(f"\n{wname}: SLO attainment (p95 latency ms) by load")
        print(f"{'policy':<10} " + " ".join(f"{x:>15g}" for x in loads))
        for name in names:
            cells = []
            for load in loads:
                r = next(r for r in results if r["arrival"] == wname and r["load"] == load
                         and r["policy"] == name)
                p95 = _fmt(r["p95_latency_ms"], ".1f")
                cells.append(f"{r['slo_attainment']:.3f} ({p95})")
            print(f"{name:<10} " + " ".join(f"{c:>15}" for c in cells))
    print(f"\nfigure: {args.out}")
    return 0


def _write_figure(results, path, design, base_rate, args) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    arrivals = list(dict.fromkeys(r["arrival"] for r in results))
    fig = make_subplots(rows=1, cols=len(arrivals), shared_yaxes=True,
                        subplot_titles=[f"{a} arrivals" for a in arrivals])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f"]
    policies = list(dict.fromkeys(r["policy"] for r in results))
    for col, a in enumerate(arrivals, start=1):
        for i, pol in enumerate(policies):
            rows = [r for r in results if r["arrival"] == a and r["policy"] == pol]
            fig.add_trace(go.Scatter(
                x=[r["load"] for r in rows], y=[r["slo_attainment"] for r in rows],
                mode="lines+markers", name=pol, legendgroup=pol, showlegend=col == 1,
                line={"color": palette[i % len(palette)]},
                customdata=[[r["p95_latency_ms"], r["mean_batch"]] for r in rows],
                hovertemplate=f"{pol}<br>load %{{x}}<br>SLO attainment %{{y:.3f}}"
                              "<br>p95 %{customdata[0]:.2f} ms<br>batch %{customdata[1]:.2f}"
                              "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="load factor" + (f" (1.0 = {base_rate:.0f} req/s)"
                                                     if base_rate else ""), row=1, col=col)
    fig.update_yaxes(title_text="SLO attainment", range=[0, 1.02], row=1, col=1)
    what = args.model or args.scenario
    fig.update_layout(title=f"SLO attainment vs load: {what}, {design.pe_count}x"
                            f"{design.pe_width} PEs, {design.batching} batching",
                      template="plotly_white", hovermode="closest")
    try:
        fig.write_html(path, include_plotlyjs="cdn")
    except OSError as exc:
        raise InputError(f"cannot write the figure: {exc.strerror}", field="--out") from None
