"""``dse dashboard``, ``dse export`` and ``dse evaluate``: look at a study, take a design away."""

from __future__ import annotations

import sys

from dse.cli._common import flags, int_at_least, positive_float, print_json, warn
from dse.common import InputError, check_choice
from dse.common.limits import MAX_REQUESTS


def register(sub) -> None:
    d = sub.add_parser("dashboard", help="write (or serve) a study's interactive dashboard",
                       description="Write one self-contained HTML dashboard of the study "
                                   "(works offline), or serve it and refresh while it runs.")
    d.add_argument("spec", metavar="SPEC.toml")
    d.add_argument("--storage", help="storage URL or file (default: the spec's)")
    d.add_argument("--out", metavar="FILE.html",
                   help="output file (default: dashboard.html in the study's results "
                        "folder; not written with --serve)")
    d.add_argument("--max-designs", type=int_at_least(1, high=10_000), default=12, metavar="N",
                   help="Pareto designs with full detail (default 12)")
    d.add_argument("--serve", action="store_true",
                   help="serve over HTTP and rebuild while the study runs")
    d.add_argument("--port", type=int_at_least(1, high=65535), default=8050,
                   help="port for --serve (default 8050)")
    d.add_argument("--host", default="127.0.0.1",
                   help="address for --serve (default 127.0.0.1: this machine only)")
    d.add_argument("--poll", type=positive_float("a positive number of seconds"), default=5.0, metavar="S",
                   help="seconds between storage polls with --serve (default 5)")
    d.set_defaults(func=_dashboard)

    e = sub.add_parser("export", help="export a design (or every trial) from a study",
                       description="Pick one design of the study and write it as a TOML/JSON "
                                   "design file, or write every trial as CSV/Parquet.")
    e.add_argument("spec", metavar="SPEC.toml")
    e.add_argument("--storage", help="storage URL or file (default: the spec's)")
    which = e.add_mutually_exclusive_group()
    which.add_argument("--trial", type=int_at_least(0), metavar="N", help="trial number")
    which.add_argument("--pick", metavar="RULE",
                       help="knee | max-slo | min-area (feasible trials only; with --where, "
                            "among the trials that meet it)")
    which.add_argument("--area-budget", type=positive_float("a positive area in mm2"), metavar="MM2",
                       help="best SLO objective within this area")
    which.add_argument("--trials", metavar="FILE.csv|FILE.parquet",
                       help="write every trial as a table instead")
    e.add_argument("--where", action="append", metavar="'METRIC OP VALUE'",
                   help="pick among designs whose stored metric meets this, e.g. "
                        "'slo_attainment>=0.95' or 'streams.voice.slo_attainment>=0.95' "
                        "(OP: >= <= > <; repeatable)")
    e.add_argument("--out", metavar="design.toml|design.json",
                   help="design file to write (default: design_trial<N>.toml in the "
                        "study's results folder)")
    e.add_argument("--json", action="store_true", help="print a JSON summary")
    e.set_defaults(func=_export)

    v = sub.add_parser("evaluate", help="re-simulate an exported design",
                       description="Re-simulate a design file. With its stored scenario, trace "
                                   "length and seed the metrics equal the stored ones exactly; "
                                   "with --seeds K, prints means and 95% t confidence "
                                   "intervals over K traces.")
    v.add_argument("design", metavar="design.toml")
    v.add_argument("--scenario", metavar="FILE", help="evaluate on another scenario (TOML)")
    v.add_argument("--requests", type=int_at_least(1, high=MAX_REQUESTS), metavar="N",
                   help="trace length")
    v.add_argument("--seeds", type=int_at_least(1, high=10_000), default=1, metavar="K",
                   help="number of traces")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(func=_evaluate)


def _spec_and_study(args):
    """(spec, study, results folder) of a command's SPEC and --storage."""
    from dse.cli.study import spec_and_storage
    from dse.report import open_spec_study
    from dse.spec import results_folder

    spec, url = spec_and_storage(args, existing=True)
    return spec, open_spec_study(spec, url), results_folder(spec, url)


def _dashboard(args) -> int:
    from dse.cli._common import Steps, prepare_kernels
    from dse.report import (
        DashboardServer,
        build_dashboard,
        check_out_path,
        is_loopback,
        study_fingerprint,
        write_dashboard,
    )

    if args.out is not None and not args.serve:
        with flags(path="--out"):  # fail before touching the storage
            check_out_path(args.out, (".html", ".htm"))
    spec, study, folder = _spec_and_study(args)
    kwargs = dict(scenario=spec.scenario, fidelity=spec.fidelity, seed=spec.seed,
                  max_designs=args.max_designs)
    prepare_kernels(spec.space.policy.values)
    if not args.serve:
        out = args.out or str(folder / "dashboard.html")
        if args.out is None:
            folder.mkdir(parents=True, exist_ok=True)
        with flags(path="--out"):
            check_out_path(out, (".html", ".htm"))
            with Steps(f"writing the dashboard (up to {args.max_designs} designs "
                       "re-simulated)") as bar:
                write_dashboard(study, out, on_progress=bar, **kwargs)
        print(out)
        return 0

    cache: dict = {}  # a design's detail never changes: simulate it once

    def build(version: str) -> str:
        return build_dashboard(study, live_version=version, detail_cache=cache, **kwargs)

    if not is_loopback(args.host):
        warn([f"--host {args.host}: the dashboard is served to other machines and has no "
              "authentication (anyone who reaches this port sees the study)"])
    try:
        server = DashboardServer(build, lambda: study_fingerprint(study), host=args.host,
                                 port=args.port, poll_s=max(0.5, args.poll),
                                 log=lambda msg: print(msg, file=sys.stderr))
    except (OSError, ValueError, UnicodeError) as exc:
        import errno

        port_taken = getattr(exc, "errno", None) in (errno.EADDRINUSE, errno.EACCES)
        raise InputError(f"cannot listen on {args.host}:{args.port}: "
                         f"{getattr(exc, 'strerror', None) or exc}",
                         field="--port" if port_taken else "--host") from None
    print(f"serving {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _export(args) -> int:
    from dse.cli.study import parse_where
    from dse.report import (
        DESIGN_SUFFIXES,
        PICK_RULES,
        check_out_path,
        design_record,
        pick,
        read_study,
        trial_area,
        write_design,
        write_trials,
    )
    from dse.search import stored_metrics

    if args.trials is not None:
        if args.out:
            raise InputError("give either --trials FILE or --out FILE, not both", field="--out")
        if args.where:
            raise InputError("--where picks a design; --trials writes every trial",
                             field="--where")
        with flags(path="--trials"):  # fail before touching the storage
            check_out_path(args.trials, (".csv", ".parquet"))
        spec, study, _ = _spec_and_study(args)
        with flags(path="--trials"):
            frame = write_trials(study, args.trials)
        print(f"{len(frame)} trials -> {args.trials}")
        return 0
    if args.trial is None and args.pick is None and args.area_budget is None:
        raise InputError("say which design: --trial N, --pick RULE or --area-budget MM2",
                         source="dse export", allowed=", ".join(PICK_RULES))
    if args.trial is not None and args.where:
        raise InputError("--where applies to --pick and --area-budget, not --trial",
                         field="--where")
    if args.pick is not None:
        check_choice(args.pick, PICK_RULES, field="--pick", what="pick rule")
    if args.out:
        with flags(path="--out"):  # fail before touching the storage
            check_out_path(args.out, DESIGN_SUFFIXES)
    spec, study, folder = _spec_and_study(args)
    where = parse_where(args, spec)
    data = read_study(study)
    with flags(area_budget="--area-budget", rule="--pick", where="--where"):
        chosen = pick(data, trial=args.trial, rule=args.pick, area_budget=args.area_budget,
                      where=where)
    record = design_record(data, chosen, spec=spec)
    if not args.out:  # default: in the study's results folder
        folder.mkdir(parents=True, exist_ok=True)
        args.out = str(folder / f"design_trial{chosen.number}.toml")
    with flags(path="--out"):
        write_design(record, args.out)
    row = next(i for i, t in enumerate(data.trials) if t.number == chosen.number)
    how = (f"trial {args.trial}" if args.trial is not None else
           f"--pick {args.pick}" if args.pick else f"--area-budget {args.area_budget:g}")
    how += "".join(f" --where '{c}'" for c in where)
    summary = {"trial": chosen.number, "rule": how, "out": args.out,
               "policy": chosen.user_attrs.get("policy"),
               "area_mm2": float(trial_area(data)[row]),
               "feasible": bool(data.feasible[row]), "pareto": bool(data.pareto[row]),
               **{n: float(v) for n, v in zip(data.metric_names, chosen.values, strict=True)},
               **{c.metric: c.value_of(stored_metrics(chosen)) for c in where}}
    if args.json:
        print_json(summary, indent=2)
    else:
        shown = dict(zip(data.metric_names, map(float, chosen.values), strict=True))
        shown.update({c.metric: c.value_of(stored_metrics(chosen)) for c in where})
        vals = ", ".join(f"{n} = {_fmt(v)}" for n, v in shown.items())
        marks = ("Pareto" if data.pareto[row] else "dominated") + (
            "" if data.feasible[row] else ", infeasible")
        print(f"trial {chosen.number} ({how}; {marks}): {vals}; policy "
              f"{summary['policy']} -> {args.out}")
    return 0


def _policies():
    from dse.sim import POLICIES

    return POLICIES


def _shown(keys) -> list[str]:
    """Overall metrics, SLO attainment first and then in catalogue order (flags such as
    ``unstable`` left out), then per-stream SLO attainment and p95."""
    from dse.metrics import METRICS

    order = ["slo_attainment", *(m for m in METRICS if m not in ("slo_attainment",
                                                                 "unstable"))]
    out = [f"overall.{k}" for k in order if f"overall.{k}" in keys]
    out += [k for k in keys if k.startswith("overall.") and k not in out
            and k.split(".")[-1] != "unstable"]
    out += [k for k in keys if k.startswith("streams.")
            and k.rsplit(".", 1)[-1] in ("slo_attainment", "p95_latency_ms")]
    return out


def _evaluate(args) -> int:
    from tqdm import tqdm

    from dse.cli._common import prepare_kernels
    from dse.report import evaluate_design, flatten_numbers, load_design

    design = load_design(args.design)
    prepare_kernels([design.policy] if design.policy in _policies() else [])

    with tqdm(total=args.seeds, desc="seeds", unit="trace", leave=False, file=sys.stderr,
              disable=args.seeds == 1 or not sys.stderr.isatty()) as bar, \
            flags(requests="--requests", seeds="--seeds"):
        result = evaluate_design(design, scenario_path=args.scenario, requests=args.requests,
                                 seeds=args.seeds, on_seed=bar.update)
    if args.json:
        print_json(result, indent=2, default=str)
    else:
        seeds = result["seeds"]
        print(f"{args.design}: policy {result['policy']}, {result['requests']} requests, "
              + (f"seed {seeds[0]}" if len(seeds) == 1 else
                 f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]})"))
        if len(seeds) == 1:
            now = flatten_numbers(result["runs"][0])
            stored = flatten_numbers(design.metrics)
            keys = _shown(list(now))
            w = max([len(k) for k in keys] + [6])
            print(f"{'metric':<{w}}  {'stored':>12}  {'now':>12}")
            for k in keys:
                s = _fmt(stored[k]) if k in stored else "-"
                print(f"{k:<{w}}  {s:>12}  {_fmt(now[k]):>12}")
        else:
            summ = result["summary"]
            keys = _shown(list(summ))
            w = max([len(k) for k in keys] + [6])
            print(f"{'metric':<{w}}  {'mean':>12}  {'95% CI':>27}  method")
            for k in keys:
                m = summ[k]
                ci = f"[{_fmt(m['ci95_low'])}, {_fmt(m['ci95_high'])}]"
                print(f"{k:<{w}}  {_fmt(m['mean']):>12}  {ci:>27}  {m['method']}")
    rep = result["reproduced"]
    if rep is True:
        if not args.json:
            print("reproduced: yes (every stored metric identical, timings excluded)")
    elif rep is False:
        first = result["mismatches"][0]
        print(f"dse: warning: stored metrics NOT reproduced ({len(result['mismatches'])} "
              f"differ, e.g. {first['metric']}: stored {first['stored']!r}, now "
              f"{first['now']!r}); was the design stored by another dse version?",
              file=sys.stderr)
        return 1
    return 0
