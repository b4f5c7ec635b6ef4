"""``dse workloads``: the model zoo, layer tables, arrival processes and scenario traces."""

from __future__ import annotations

from dse.cli._common import flags, print_json


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


_LEGEND = ("marks: p published, m mapped from a published model or data set, f fitted to "
           "published data, a assumed")


def _marks(summary: dict, key: str, n: int) -> list[str]:
    """One provenance letter per element of ``key`` (empty strings for user models)."""
    from workloads.zoo import PROVENANCE_MARKS as MARKS

    recs = summary["provenance"].get(key)
    return [MARKS[r["kind"]] for r in recs] if recs else [""] * n


def _numbers(summary: dict, key: str) -> str:
    values = summary[key]
    return " ".join(f"{v:.2f}{m}" for v, m in zip(values, _marks(summary, key, len(values)),
                                                   strict=True))


def _list(args) -> int:
    from workloads import get_model, list_models

    rows = [get_model(n).summary() for n in list_models()]
    if args.json:
        print_json(rows, indent=2)
        return 0
    print(f"{'name':<12} {'layers':>6} {'GMACs':>8} {'backbone':>8} {'params M':>8}  "
          f"{'exits':<24} exit profile / accuracy")
    for r in rows:
        exits = ",".join(str(e) for e in r["exits"])
        if len(exits) > 22:
            exits = f"{len(r['exits'])} exits"
        exits = f"{exits} {''.join(sorted(set(_marks(r, 'exits', len(r['exits'])))))}"
        print(f"{r['name']:<12} {r['layers']:>6} {r['gmacs']:>8.3f} {r['backbone_gmacs']:>8.3f} "
              f"{r['params_m']:>8.2f}  {exits:<24} {_numbers(r, 'exit_profile')} / "
              f"{_numbers(r, 'exit_accuracy')}")
    print(f"{_LEGEND}; citations and reasons: dse workloads show NAME")
    return 0


def _provenance_lines(summary: dict) -> list[str]:
    """Citations and reasons, consecutive elements that share a record on one line."""
    from workloads.zoo import PROVENANCE_MARKS as MARKS

    lines = []
    for key, recs in summary["provenance"].items():
        groups: list[tuple[list[int], dict]] = []
        for i, rec in enumerate(recs):
            if groups and groups[-1][1] == rec:
                groups[-1][0].append(i)
            else:
                groups.append(([i], rec))
        for items, rec in groups:
            label = key if len(items) == len(recs) else (
                f"{key}[{items[0]}]" if len(items) == 1 else f"{key}[{items[0]}-{items[-1]}]")
            text = rec["reason"] if rec["kind"] == "assumed" else rec["cite"]
            for extra in ("mapping", "note"):
                if rec.get(extra):
                    text += f"; {extra}: {rec[extra]}"
            lines.append(f"  {label:<20} {MARKS[rec['kind']]}  {text}")
    return lines


def _show(args) -> int:
    from workloads import get_model
    from workloads.zoo import threshold_fit

    m = get_model(args.name, field="NAME")
    rows = m.layer_rows()
    fit = threshold_fit(m.name) if m.provenance else None
    summary = m.summary()
    if args.json:
        print_json({**summary, "threshold_fit": fit, "layer_table": rows}, indent=2)
        return 0
    print(f"{m.name}: {len(rows)} layers, {m.gmacs:.3f} GMACs "
          f"(backbone {m.backbone_gmacs:.3f}), {m.params_m:.2f} M weights, "
          f"{m.n_exits} exits")
    print(f"source: {m.source}")
    if m.provenance:
        print(f"exit profile {_numbers(summary, 'exit_profile')}, accuracy "
              f"{_numbers(summary, 'exit_accuracy')}, confidence slope {m.confidence_slope:g}")
        print(f"provenance ({_LEGEND}):")
        print("\n".join(_provenance_lines(summary)))
    if fit:
        print(f"threshold fit: {fit['distinct_points']} distinct published operating points, "
              f"residual RMS {fit['rms_pp']:.2f} pp, largest {fit['max_abs_pp']:.2f} pp; "
              f"the default profile is exit_thresholds "
              f"{fit['default_profile_thresholds']} (model accuracy "
              f"{fit['default_profile_accuracy']:.4f})")
    print(f"{'#':>3} {'name':<30} {'kind':<6} {'R':>6} {'P':>6} {'C':>6} {'G':>4} "
          f"{'MMACs':>9}  note")
    for r in rows:
        note = "head" if r["head"] else ""
        if r["exit"] is not None:
            e = r["exit"]
            note = (f"{note} -> exit {e} (p={m.exit_profile[e]:.2f}"
                    f"{_marks(summary, 'exit_profile', m.n_exits)[e]}, "
                    f"acc={m.exit_accuracy[e]:.3f}"
                    f"{_marks(summary, 'exit_accuracy', m.n_exits)[e]})").strip()
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
        print_json(out, indent=2)
        return 0
    for p in out:
        print(f"{p['name']}: {p['doc']}")
        for q in p["params"]:
            default = "required" if q["default"] is None else f"default {q['default']!r}"
            extra = q["range"] or (", ".join(q["choices"]) if q["choices"] else q["kind"])
            print(f"    {q['name']:<15} {extra:<16} {default:<18} {q['doc']}")
    return 0


def _trace(args) -> int:
    from dse.common import InputError, check_requests, check_seed
    from dse.common.limits import MAX_TIME_MS
    from workloads import load_scenario, trace_summary

    if not 0 < args.window_ms <= MAX_TIME_MS:
        raise InputError(f"must be > 0 and <= {MAX_TIME_MS:g}, got {args.window_ms}",
                         field="--window-ms", allowed=f"(0, {MAX_TIME_MS:g}] ms")
    check_requests(args.requests, field="--requests")
    check_seed(args.seed, field="--seed")
    from dse.common.files import atomic_write, check_output

    if args.csv:
        check_output(args.csv, field="--csv")
    sc = load_scenario(args.scenario)
    tr = sc.trace(args.requests, args.seed)
    if args.csv:
        atomic_write(args.csv, lambda tmp: tr.to_frame().to_csv(tmp, index=False),
                     field="--csv")
    with flags(window_ms="--window-ms"):
        summary = trace_summary(sc, tr, args.window_ms)
    if args.json:
        print_json(summary, indent=2)
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
