"""``dse run``, ``dse worker`` and ``dse status``: optimisation studies from a spec."""

from __future__ import annotations

import json


def _positive_int(text: str) -> int:
    from dse.common import InputError

    try:
        v = int(text)
    except ValueError:
        raise InputError(f"expected a positive integer, got '{text}'") from None
    if v < 1:
        raise InputError(f"expected a positive integer, got {v}")
    return v


def _positive_float(text: str) -> float:
    from dse.common import InputError

    try:
        v = float(text)
    except ValueError:
        raise InputError(f"expected a number of seconds, got '{text}'") from None
    if not v > 0:
        raise InputError(f"expected a positive number of seconds, got {text}")
    return v


def register(sub) -> None:
    p = sub.add_parser("run", help="create or resume a study and run it to n_trials",
                       description="Create or resume the study of SPEC and run it until it "
                                   "holds n_trials complete trials (resume is the default).")
    p.add_argument("spec", metavar="SPEC.toml")
    p.add_argument("--n-trials", type=_positive_int, help="total complete trials to reach")
    p.add_argument("--storage", help="storage URL (default: the spec's, else "
                                     "results/<name>/study.db)")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="local worker processes (needs a journal or server storage)")
    p.add_argument("--timeout", type=_positive_float, help="stop after S seconds")
    p.add_argument("--no-report", action="store_true", help="skip the dashboard/report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

    w = sub.add_parser("worker", help="join a study's search from any machine",
                       description="Run trials of an existing or new study on a shared "
                                   "storage (PostgreSQL/MySQL URL or a journal file).")
    w.add_argument("spec", metavar="SPEC.toml")
    w.add_argument("--storage", help="storage URL shared by all workers")
    w.add_argument("--n-trials", type=_positive_int, help="total complete trials to reach")
    w.add_argument("--timeout", type=_positive_float, help="stop after S seconds")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=_worker)

    s = sub.add_parser("status", help="trial counts, Pareto front and hypervolume",
                       description="Show a study's trials by state, its Pareto front and "
                                   "normalised hypervolume.")
    s.add_argument("spec", metavar="SPEC.toml")
    s.add_argument("--storage", help="storage URL (default: the spec's)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_status)


def _storage(args, spec) -> str:
    from dse.spec import resolve_storage_path

    if args.storage:
        from pathlib import Path

        return resolve_storage_path(args.storage, Path.cwd())
    return spec.storage_url


def _summary(spec, result) -> None:
    from dse.search import redact_url

    c = result.counts
    state = "stopped" if result.stopped else "done"
    print(f"study {spec.name} ({state}): {c['COMPLETE']} complete, {c['PRUNED']} pruned, "
          f"{c['FAIL']} failed trials; Pareto front {result.front_size} designs, "
          f"hypervolume {result.hypervolume:.4f}")
    print(f"storage: {redact_url(result.storage_url)}")
    for path in result.report_paths:
        print(f"wrote {path}")


def _run(args) -> int:
    from dse.search import run
    from dse.spec import load_spec

    spec = load_spec(args.spec)
    url = _storage(args, spec)
    result = run(spec, n_trials=args.n_trials, storage_url=url, workers=args.workers,
                 timeout=args.timeout, progress=not args.quiet, report=not args.no_report)
    _summary(spec, result)
    return 130 if result.stopped else 0


def _worker(args) -> int:
    import signal
    import time

    from dse.common import InputError
    from dse.search import open_study, run_worker
    from dse.search._runner import Progress, _Stop
    from dse.search._storage import kind
    from dse.spec import load_spec

    spec = load_spec(args.spec)
    url = _storage(args, spec)
    if kind(url) == "sqlite":
        raise InputError("a worker shares the study with other processes: give a "
                         "postgresql:// (or mysql://) URL or a journal file, not SQLite",
                         field="--storage")
    study = open_study(spec, url, create=True)
    n_trials = args.n_trials if args.n_trials is not None else spec.n_trials
    timeout = args.timeout if args.timeout is not None else spec.timeout
    deadline = time.monotonic() + timeout if timeout is not None else None
    bar = Progress(spec, study, n_trials, enabled=not args.quiet)
    stop = _Stop().install(signal.SIGINT, signal.SIGTERM)
    try:
        mine = run_worker(spec, study, n_trials=n_trials, deadline=deadline, stop=stop.event,
                          on_trial=lambda s: bar.refresh())
    except KeyboardInterrupt:
        stop.event.set()
        mine = None
    finally:
        stop.restore()
        bar.close()
    from dse.search import counts

    c = counts(study)
    done = "stopped" if stop.event.is_set() else "done"
    extra = f", {mine} by this worker" if mine is not None else ""
    print(f"study {spec.name} ({done}): {c['COMPLETE']} complete trials{extra}")
    return 130 if stop.event.is_set() else 0


def _status(args) -> int:
    import pandas as pd

    from dse.search import open_study, redact_url, status
    from dse.search._status import pareto_table
    from dse.spec import load_spec

    spec = load_spec(args.spec)
    url = _storage(args, spec)
    study = open_study(spec, url, create=False)
    st = status(spec, study)
    st["storage"] = redact_url(url)
    if args.json:
        print(json.dumps(st, indent=2, allow_nan=False, default=str))
        return 0
    c = st["counts"]
    states = ", ".join(f"{k.lower()} {v}" for k, v in c.items() if v)
    print(f"study {spec.name}  storage {st['storage']}")
    target = f" of {spec.n_trials}" if spec.n_trials else ""
    print(f"trials: {states or 'none'}  (complete{target}; feasible {st['complete_feasible']})")
    print(f"hypervolume {st['hypervolume']:.4f} (normalised over best..worst, reference 1.1: "
          + ", ".join(f"{m} {a + 0.0:.4g}..{b + 0.0:.4g}" for m, (a, b)
                      in st["hypervolume_bounds"].items()) + ")")
    table = pareto_table(spec, study)
    print(f"Pareto front ({len(table)} designs):")
    with pd.option_context("display.max_columns", 30, "display.width", 160,
                           "display.float_format", "{:.4g}".format):
        shown = table.astype(object).where(table.notna(), "")  # unused conditional params
        print(shown.to_string(index=False) if len(table) else "  (no complete feasible trials)")
    return 0
