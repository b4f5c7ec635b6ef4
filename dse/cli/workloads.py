"""``dse workloads``: the model zoo, layer tables, arrival processes and scenario traces."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    p = subparsers.add_parser("workloads", help="list the early-exit model zoo",
                              description="List the early-exit model zoo (or a subcommand).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)
    sub = p.add_subparsers(dest="workloads_command", metavar="SUBCOMMAND",
                           parser_class=type(p))
    s = sub.add_parser("show", help="layer table of one model",
                       description="Layer table of a zoo model or a model .toml file.")
    s.add_argument("name", help="zoo model name or model .toml file")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_show)
    a = sub.add_parser("arrivals", help="arrival processes and their parameters",
                       description="Arrival processes and their declared parameters.")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=_arrivals)
    t = sub.add_parser("trace", help="draw a scenario's trace and summarise it",
                       description="Draw the merged request trace of a scenario file and "
                                   "summarise it per stream (rate, burstiness, exits).")
    t.add_argument("scenario", help="TOML file with a [scenario] table")
    t.add_argument("--requests", type=int, default=100_000, help="requests (default 100000)")
    t.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    t.add_argument("--window-ms", type=float, default=1000.0,
                   help="window for the index of dispersion (default 1000 ms)")
    t.add_argument("--csv", metavar="PATH", help="also write the trace as CSV")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    t.set_defaults(func=_trace)


def _list(args) -> int:
    from workloads import get_model, list_models

    rows = [get_model(n).summary() for n in list_models()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<12} {'layers':>6} {'GMACs':>8} {'backbone':>8} {'params M':>8}  "
          f"{'exits':<22} exit profile / accuracy")
    for r in rows:
        exits = ",".join(str(e) for e in r["exits"])
        if len(exits) > 22:
            exits = f"{len(r['exits'])} exits"
        prof = " ".join(f"{p:.2f}" for p in r["exit_profile"])
        acc = " ".join(f"{a:.2f}" for a in r["exit_accuracy"])
        print(f"{r['name']:<12} {r['layers']:>6} {r['gmacs']:>8.3f} {r['backbone_gmacs']:>8.3f} "
              f"{r['params_m']:>8.2f}  {exits:<22} {prof} / {acc}")
    return 0


def _show(args) -> int:
    from workloads import get_model

    m = get_model(args.name, field="NAME")
    rows = m.layer_rows()
    if args.json:
        print(json.dumps({**m.summary(), "layer_table": rows}, indent=2))
        return 0
    print(f"{m.name}: {len(rows)} layers, {m.gmacs:.3f} GMACs "
          f"(backbone {m.backbone_gmacs:.3f}), {m.params_m:.2f} M weights, "
          f"{m.n_exits} exits")
    print(f"source: {m.source}")
    print(f"{'#':>3} {'name':<30} {'kind':<6} {'R':>6} {'P':>6} {'C':>6} {'G':>4} "
          f"{'MMACs':>9}  note")
    for r in rows:
        note = "head" if r["head"] else ""
        if r["exit"] is not None:
            e = r["exit"]
            note = (f"{note} -> exit {e} (p={m.exit_profile[e]:.2f}, "
                    f"acc={m.exit_accuracy[e]:.3f})").strip()
        if not r["weights_shared"]:
            note = f"act x act {note}".strip()
        print(f"{r['index']:>3} {r['name'][:30]:<30} {r['kind']:<6} {r['rows']:>6} "
              f"{r['reduction']:>6} {r['cols']:>6} {r['groups']:>4} {r['macs'] / 1e6:>9.2f}  "
              f"{note}")
    return 0


def _arrivals(args) -> int:
    from workloads import ARRIVALS

    out = [{"name": p.name, "doc": p.doc,
            "params": [{"name": q.name, "kind": q.kind, "default": q.default,
                        "range": q.range_text() if q.kind in ("int", "float") else None,
                        "choices": list(q.choices) or None, "doc": q.doc}
                       for q in p.params.values()]}
           for p in ARRIVALS.values()]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for p in out:
        print(f"{p['name']}: {p['doc']}")
        for q in p["params"]:
            default = "required" if q["default"] is None else f"default {q['default']!r}"
            extra = q["range"] or (", ".join(q["choices"]) if q["choices"] else q["kind"])
            print(f"    {q['name']:<15} {extra:<16} {default:<18} {q['doc']}")
    return 0


def _trace(args) -> int:
    from dse.common import InputError
    from workloads import load_scenario, trace_summary

    if args.window_ms <= 0:
        raise InputError(f"must be > 0, got {args.window_ms}", field="--window-ms")
    sc = load_scenario(args.scenario)
    tr = sc.trace(args.requests, args.seed)
    if args.csv:
        tr.to_frame().to_csv(args.csv, index=False)
    summary = trace_summary(sc, tr, args.window_ms)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{summary['scenario']}: {summary['requests']} requests over "
          f"{summary['duration_ms'] / 1000:.2f} s (seed {args.seed})")
    print(f"{'stream':<14} {'model':<12} {'arrival':<9} {'requests':>8} {'rate/s':>8} "
          f"{'spec/s':>8} {'IDC':>7} {'acc':>6}  exit shares")
    for s in summary["streams"]:
        idc = "-" if s["index_of_dispersion"] is None else f"{s['index_of_dispersion']:.2f}"
        model = s["model"] if len(s["model"]) <= 12 else "..." + s["model"][-9:]
        print(f"{s['name'][:14]:<14} {model:<12} {s['arrival']:<9} {s['requests']:>8} "
              f"{s['rate_rps']:>8.1f} {s['specified_rate_rps']:>8.1f} {idc:>7} "
              f"{s['mean_accuracy']:>6.3f}  {' '.join(f'{x:.2f}' for x in s['exit_shares'])}")
    return 0
