"""``dse run``, ``dse worker`` and ``dse status``: optimisation studies from a spec."""

from __future__ import annotations

import sys

from dse.cli._common import int_at_least, positive_float, print_json
from dse.common import InputError


def register(sub) -> None:
    positive = int_at_least(1)
    seconds = positive_float("a positive number of seconds")
    p = sub.add_parser("run", help="create or resume a study and run it to n_trials",
                       description="Create or resume the study of SPEC and run it until it "
                                   "holds n_trials complete trials (resume is the default).")
    p.add_argument("spec", metavar="SPEC.toml")
    p.add_argument("--n-trials", type=positive, help="total complete trials to reach")
    p.add_argument("--storage", help="storage URL (default: the spec's, else "
                                     "results/<name>/study.db)")
    p.add_argument("--workers", type=int_at_least(1, high=1024), default=1,
                   help="local worker processes (needs a journal or server storage)")
    p.add_argument("--timeout", type=seconds, help="stop after S seconds")
    p.add_argument("--no-report", action="store_true", help="skip the dashboard/report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

    w = sub.add_parser("worker", help="join a study's search from any machine",
                       description="Run trials of an existing or new study on a shared "
                                   "storage (PostgreSQL/MySQL URL or a journal file).")
    w.add_argument("spec", metavar="SPEC.toml")
    w.add_argument("--storage", help="storage URL shared by all workers")
    w.add_argument("--n-trials", type=positive, help="total complete trials to reach")
    w.add_argument("--timeout", type=seconds, help="stop after S seconds")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=_worker)

    s = sub.add_parser("status", help="trial counts, Pareto front and hypervolume",
                       description="Show a study's trials by state, its Pareto front and "
                                   "normalised hypervolume.")
    s.add_argument("spec", metavar="SPEC.toml")
    s.add_argument("--storage", help="storage URL or file (default: the spec's)")
    s.add_argument("--where", action="append", metavar="'METRIC OP VALUE'",
                   help="only designs whose stored metric meets this, e.g. "
                        "'slo_attainment>=0.95' or 'streams.voice.slo_attainment>=0.95' "
                        "(OP: >= <= > <; repeatable)")
    s.add_argument("--wide", action="store_true",
                   help="every searched parameter, not only those that vary along the front")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_status)

    m = sub.add_parser("metrics", help="list the metrics (objectives, constraints, tables)",
                       description="List the registered metrics: unit, default direction, "
                                   "exact or sampled, where each comes from.")
    m.add_argument("--json", action="store_true", help="machine-readable output")
    m.set_defaults(func=_metrics)

    a = sub.add_parser("samplers", help="list the samplers and their options",
                       description="List the registered samplers (study.sampler) and their "
                                   "options (study.sampler_options) with types and ranges.")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=_samplers)


def spec_and_storage(args, *, existing: bool = False):
    """The spec of ``args.spec`` and the storage URL: ``--storage`` (a relative path is
    relative to the current directory) or the spec's (relative to the spec's folder).

    ``existing``: the study must already be stored; a missing storage file is a one-line
    error that says where it looked and how to point elsewhere."""
    from pathlib import Path

    from dse.spec import load_spec, resolve_storage_path, storage_file

    spec = load_spec(args.spec)
    given = getattr(args, "storage", None)
    url = resolve_storage_path(given, Path.cwd()) if given else spec.storage_url
    path = storage_file(url)
    if existing and path is not None and not path.exists():
        raise InputError(_not_found(spec, path, given), source=args.spec,
                         field="--storage" if given else "study.storage")
    return spec, url


def _not_found(spec, path, given) -> str:
    """Where a command looked for a study, and how to point it elsewhere."""
    import os
    from pathlib import Path

    def shown(p: Path) -> str:
        rel = os.path.relpath(p)
        return rel if not rel.startswith("..") else str(p)

    where = "--storage" if given else "the spec's storage"
    msg = f"no study '{spec.name}' at {shown(path)} ({where})"
    seen = {path.absolute()}
    found = []
    for folder in (Path(spec.results_dir), Path.cwd() / "results" / spec.name):
        for f in sorted(folder.glob("*")) if folder.is_dir() else ():
            if f.suffix in (".db", ".journal") and f.absolute() not in seen:
                seen.add(f.absolute())
                found.append(shown(f))
    if found:
        return msg + f"; found {', '.join(found)}: give --storage {found[0]}"
    return (msg + f"; run `dse run {spec.source}` first, or give --storage FILE|URL for a "
            "study run with another storage")


def _run(args) -> int:
    spec, url = spec_and_storage(args)  # first: a mistake in the spec costs no imports
    from dse.cli._common import Steps, prepare_kernels
    from dse.cli._runner import run_study
    from dse.report import write_run_report
    from dse.search import redact_url
    from dse.spec import results_folder

    prepare_kernels(spec.space.policy.values)
    res = run_study(spec, n_trials=args.n_trials, storage_url=url, workers=args.workers,
                    timeout=args.timeout, progress=not args.quiet)
    paths = []
    if res.aborted:
        print("dse: aborted: no report written (`dse dashboard` writes it)", file=sys.stderr)
    elif not args.no_report:
        with Steps("writing the report (dashboard, knee design)") as bar:
            paths = [p for p in write_run_report(spec, res.study, results_folder(spec, url),
                                                 on_progress=bar) if p]
    c = res.counts
    state = ("stopped" if res.stopped else
             "done: every design of the space is in the study" if res.exhausted else "done")
    print(f"study {spec.name} ({state}): {c['COMPLETE']} complete, {c['PRUNED']} pruned, "
          f"{c['FAIL']} failed trials; Pareto front {res.front_size} designs, "
          f"hypervolume {res.hypervolume:.4f}")
    print(f"storage: {redact_url(res.storage_url)}")
    for path in paths:
        print(f"wrote {path}")
    return 130 if res.stopped else 0


def _worker(args) -> int:
    spec, url = spec_and_storage(args)
    from dse.cli._common import prepare_kernels
    from dse.cli._runner import join_study
    from dse.search import counts

    prepare_kernels(spec.space.policy.values)
    mine, study, stopped = join_study(spec, url, n_trials=args.n_trials, timeout=args.timeout,
                                      progress=not args.quiet)
    c = counts(study)
    extra = f", {mine} by this worker" if mine is not None else ""
    print(f"study {spec.name} ({'stopped' if stopped else 'done'}): {c['COMPLETE']} "
          f"complete trials{extra}")
    return 130 if stopped else 0


def parse_where(args, spec) -> list:
    """The ``--where METRIC OP VALUE`` conditions of a command, checked against the
    metric catalogue and the spec's streams."""
    from dse.metrics import parse_condition

    streams = [s.name for s in spec.scenario.streams]
    return [parse_condition(text, streams=streams) for text in args.where or ()]


def _table(df) -> str:
    """A status table: 4 significant digits, blank cells for parameters of other
    policies."""
    import pandas as pd

    shown = df.astype(object).where(df.notna(), "")
    with pd.option_context("display.max_columns", None, "display.width", 10_000,
                           "display.float_format", "{:.4g}".format):
        return shown.to_string(index=False)


def _status(args) -> int:
    spec, url = spec_and_storage(args, existing=True)  # first: a mistake costs no imports
    from dse.search import closest_infeasible, open_study, pareto_table, redact_url, status

    where = parse_where(args, spec)
    study = open_study(spec, url, create=False)
    st = status(spec, study, where=where, wide=True)
    st["storage"] = redact_url(url)
    if args.json:
        print_json(st, indent=2, allow_nan=False, default=str)
        return 0
    c = st["counts"]
    states = ", ".join(f"{k.lower()} {v}" for k, v in c.items() if v)
    print(f"study {spec.name}  storage {st['storage']}")
    target = f" of {spec.n_trials}" if spec.n_trials else ""
    print(f"trials: {states or 'none'}  (complete{target}; feasible {st['complete_feasible']})")
    print(f"hypervolume {st['hypervolume']:.4f} (normalised over best..worst, reference 1.1: "
          + ", ".join(f"{m} {a + 0.0:.4g}..{b + 0.0:.4g}" for m, (a, b)
                      in st["hypervolume_bounds"].items()) + ")")
    if spec.constraints:
        print("constraints: " + ", ".join(str(k) for k in spec.constraints)
              + "; slack(...) = margin to the bound in the metric's unit (>= 0: met)")
    table = pareto_table(spec, study, where=where, wide=args.wide)
    cond = f" with {' and '.join(map(str, where))}" if where else ""
    hidden = len(spec.space.varying()) - sum(c in spec.space.varying() for c in table.columns)
    note = (f"; {hidden} more parameter(s) with --wide"
            if hidden and not args.wide and len(table) else "")
    print(f"Pareto front ({len(table)} designs meeting the constraints{cond}{note}):")
    print(_table(table) if len(table) else "  (no complete design meets them)")
    params = [c for c in table.columns if c in spec.space.varying()]
    near = closest_infeasible(spec, study, where=where, params=params)
    if len(near):
        print(f"closest designs that miss a constraint ({len(near)} shown):")
        print(_table(near))
    return 0


def _metrics(args) -> int:
    from dse.metrics import METRICS

    rows = [{"name": m.name, "unit": m.unit or None, "direction": m.direction,
             "exact": m.exact, "source": m.source, "objective": m.objective, "doc": m.doc}
            for m in METRICS.values()]
    if args.json:
        print_json(rows, indent=2)
        return 0
    print(f"{'metric':<24} {'unit':<5} {'direction':<9} {'value':<8} {'from':<11} doc")
    for r in rows:
        value = "exact" if r["exact"] else "sampled"
        use = "" if r["objective"] else " (not an objective)"
        print(f"{r['name']:<24} {r['unit'] or '-':<5} {r['direction'][:3]:<9} {value:<8} "
              f"{r['source']:<11} {r['doc']}{use}")
    return 0


def _samplers(args) -> int:
    from dse.search import SAMPLERS

    rows = [{"name": s.name, "doc": s.doc, "available": s.missing() is None,
             "options": [{"name": o.name, "kind": o.kind, "default": o.default,
                          "low": o.low, "high": o.high, "doc": o.doc}
                         for o in s.options.values()]} for s in SAMPLERS.values()]
    if args.json:
        print_json(rows, indent=2)
        return 0
    for r in rows:
        print(f"{r['name']}: {r['doc']}" + ("" if r["available"] else " (not installed)"))
        for o in r["options"]:
            rng = "" if o["kind"] == "bool" else (
                f"{o['low']}..{'' if o['high'] is None else o['high']}")
            print(f"    {o['name']:<18} {o['kind']:<5} default {o['default']:<15} "
                  f"range {rng:<10} {o['doc']}")
    return 0
