"""What a study trial costs, measured side by side in one run (the README's speed table).

Usage: python3 benchmarks/bench_trials.py [--trials 30] [--postgres URL] [--json OUT]

Prints, in one run on the same machine (absolute times move with the load on it; the
ratios within one run are what the table compares):

* start-up: CPU and wall time of ``dse --help``, ``dse policies`` and of one-line input
  errors (a missing spec, a spec with a mistyped field, an unknown policy), next to
  ``python -c pass`` (best of 5, each a new process; the package's bytecode compiled
  first, as an installed package has it);
* compile: CPU seconds of the first simulation of a policy in a new process with an
  empty Numba cache (``NUMBA_CACHE_DIR`` in a new temporary folder): the cost-model
  kernels, the first policy (``fcfs``, which also compiles the kernel functions every
  policy shares) and a second one (``fluid``); then the same in a second process that
  loads them from that cache (warm);
* CPU per quickstart trial (``studies/quickstart.toml`` as written: nsga2, 4,000
  requests, pruning on 800) on SQLite (the default storage), a journal file, in memory
  and, with ``--postgres URL``, PostgreSQL (client CPU; the server's is not counted),
  5 warm-up trials with compiled kernels, then the trials until ``--trials`` more are
  complete (pruned ones timed and counted too), each storage in a new process (so that
  none reuses the tables an earlier one cached for the same designs), with the storage
  calls per trial (``tests/storage_calls.py``), and where the in-memory trial's CPU
  goes (the evaluation, its simulations, their kernel);
* the floor under those: CPU per trial of a bare Optuna study of the same shape (two
  objectives, Optuna's NSGA-II, the same eight parameters and one user attr, no
  simulation) on each storage as ``optuna.create_study`` makes it;
* the simulation kernel's ns per layer pass against a floor loop that does the same
  arithmetic with no scheduler (``fcfs`` semantics: one request at a time, each layer
  pass adds its latency, energy and utilisation shares), on the same ResNet-50 trace,
  the two alternating (best of 5 rounds each: the machine's speed drifts);
* per-stream metrics (``dse.metrics.compute_metrics``) at 1 and 64 streams against the
  kernel time of the same trace.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- start-up
def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _process(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one new process."""
    c0, t0 = _child_cpu(), time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env or _env())
    return time.perf_counter() - t0, _child_cpu() - c0, proc.stdout


def _env(**extra) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), **extra)


def startup(repeat: int = 5) -> dict:
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    typo = work / "typo.toml"  # the quickstart spec with a mistyped field name
    typo.write_text((ROOT / "studies/quickstart.toml").read_text()
                    .replace("\nn_trials = ", "\nn_trails = "))
    npu = str(ROOT / "cost_models/designs/edge_small.toml")
    dse = [py, "-m", "dse"]
    cases = {"python -c pass": [py, "-c", "pass"],
             "dse --help": [*dse, "--help"],
             "dse policies": [*dse, "policies"],
             "input error (dse run missing.toml)": [*dse, "run", "missing.toml"],
             "input error (spec field typo)": [*dse, "run", str(typo)],
             "input error (simulate --policy nope)": [
                 *dse, "simulate", "--npu", npu, "--model", "resnet18", "--rate", "10",
                 "--slo-ms", "50", "--policy", "nope"]}
    # the package's bytecode compiled first, as an installed package (or any second run
    # without PYTHONDONTWRITEBYTECODE) has it: the runs time the imports, not compiling
    subprocess.run([py, "-m", "compileall", "-q", "dse", "cost_models", "workloads"],
                   cwd=ROOT, check=True, capture_output=True)
    out = {}
    for name, argv in cases.items():
        runs = [_process(argv)[:2] for _ in range(repeat)]
        out[name] = {"wall_s": min(r[0] for r in runs), "cpu_s": min(r[1] for r in runs)}
    return out


# --------------------------------------------------------------------------- compile
COMPILE = textwrap.dedent("""
    import json, time
    import numpy as np
    t = time.process_time()
    from cost_models import latency_table, load_npu
    from dse import sim
    from workloads import get_model
    out = {"import": time.process_time() - t}
    t = time.process_time()
    latency_table(load_npu("cost_models/designs/tpu_v1.toml"), get_model("mobilenetv2").layers)
    out["cost-model kernels"] = time.process_time() - t
    for policy in ("fcfs", "fluid"):
        t = time.process_time()
        sim.warm(policy)
        out[policy] = time.process_time() - t
    print(json.dumps(out))
""")


def compile_times() -> dict:
    """CPU seconds per step, cold (empty cache) then warm (that cache)."""
    cache = tempfile.mkdtemp(prefix="numba-cache-")
    env = _env(NUMBA_CACHE_DIR=cache)
    runs = {}
    for label in ("cold", "warm"):
        proc = subprocess.run([sys.executable, "-c", COMPILE], capture_output=True, text=True,
                              env=env, cwd=ROOT, check=True)
        runs[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return runs


# --------------------------------------------------------------------------- trials
def storage_trials(url: str | None, trials: int) -> dict:
    """CPU per quickstart trial on one storage (``url``; ``None``: in memory), in this
    process: 5 warm-up trials (kernels compiled, traces built), then the trials until
    ``trials`` more are complete (pruned ones are timed and counted too)."""
    import optuna
    from storage_calls import count_calls

    from dse.search import open_study, run_worker
    from dse.search._samplers import make_sampler
    from dse.spec import parse_spec

    work = Path(tempfile.mkdtemp(prefix="bench-trials-"))
    text = (ROOT / "studies/quickstart.toml").read_text()
    name = f"bench-{int(time.time() * 1e3)}"
    spec = parse_spec(text.replace('name = "quickstart"', f'name = "{name}"'),
                      source=str(work / "quickstart.toml"), base=work)
    if url is None:
        study = optuna.create_study(directions=spec.directions, sampler=make_sampler(spec))
    else:
        study = open_study(spec, url.replace("{work}", str(work)))
    run_worker(spec, study, n_trials=5)  # kernels compiled, traces built
    counter = count_calls(study._storage)
    split = _time_calls() if url is None else None
    before = len(study.get_trials(deepcopy=False))
    c0, t0 = time.process_time(), time.perf_counter()
    run_worker(spec, study, n_trials=5 + trials)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    n = len(study.get_trials(deepcopy=False)) - before
    out = {"trials": n, "cpu_ms": 1e3 * cpu / n, "wall_ms": 1e3 * wall / n,
           "storage_calls": counter.total / n}
    if split is not None:
        out["split_ms"] = {k: 1e3 * v / n for k, v in split.items()}
    return out


def _time_calls() -> dict:
    """Wrap ``dse.evaluation``'s ``evaluate`` and ``simulate`` to add up their CPU seconds
    (and the kernel's, from each result's counters) into the returned dict."""
    import dse.evaluation as ev

    acc = {"evaluate": 0.0, "simulate": 0.0, "kernel": 0.0}

    def timed(fn, name):
        def call(*args, **kwargs):
            c0 = time.process_time()
            res = fn(*args, **kwargs)
            acc[name] += time.process_time() - c0
            if name == "simulate":
                acc["kernel"] += res.counters["cpu_seconds"]
            return res
        return call

    ev.evaluate = timed(ev.evaluate, "evaluate")
    ev.simulate = timed(ev.simulate, "simulate")
    return acc


def cpu_per_trial(trials: int, postgres: str | None) -> dict:
    """:func:`storage_trials` for each storage, each in a new process: in one process,
    a storage measured after another would find the latency tables, prediction tables
    and traces of the same designs (the same seed) in the process's caches."""
    storages = {"sqlite (default)": "sqlite:///{work}/study.db",
                "journal": "{work}/study.journal", "in-memory": None}
    if postgres:
        storages["postgresql"] = postgres
    out = {}
    for label, url in storages.items():
        code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
                "from bench_trials import storage_trials; "
                f"print(json.dumps(storage_trials({url!r}, {trials})))")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=_env(), cwd=ROOT, check=True)
        out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def bare_optuna(trials: int, postgres: str | None) -> dict:
    """CPU per trial of a bare Optuna study with the quickstart's shape: two objectives,
    Optuna's own NSGA-II (population 12), the same eight parameters and one user attr,
    no simulation; Optuna's storages as ``optuna.create_study`` makes them.  What a trial
    costs in Optuna alone on each storage: the floor under the quickstart's numbers."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # as dse runs it

    def objective(trial):
        p = {"pe_count": trial.suggest_categorical("pe_count", [32, 64, 128, 256]),
             "pe_width": trial.suggest_categorical("pe_width", [8, 16, 32]),
             "stack": trial.suggest_categorical("stack_factors", ["1", "1,2,4"]),
             "batching": trial.suggest_categorical("batching", ["r", "fluid"]),
             "sram": trial.suggest_categorical("weight_sram_kib", [256, 512, 1024]),
             "b": trial.suggest_int("fluid.max_batch", 2, 16),
             "r": trial.suggest_float("fluid.refill_level", 0.0, 1.0, step=0.25),
             "c": trial.suggest_float("fluid.catchup_last", 0.0, 1.0, step=0.25)}
        trial.set_user_attr("design", p)
        return p["b"] / 16, p["pe_count"] * p["pe_width"] / 8192

    work = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    storages = {"sqlite (default)": lambda: f"sqlite:///{work}/bare.db",
                "journal": lambda: JournalStorage(JournalFileBackend(str(work / "bare.jnl"))),
                "in-memory": lambda: None}
    if postgres:
        from dse.search._storage import _driver_url  # the installed driver

        storages["postgresql"] = lambda: _driver_url(postgres)
    out = {}
    for label, make in storages.items():
        study = optuna.create_study(storage=make(), directions=["maximize", "minimize"],
                                    study_name=f"bare-{int(time.time() * 1e3)}",
                                    sampler=optuna.samplers.NSGAIISampler(
                                        population_size=12, seed=7))
        study.optimize(objective, n_trials=5)
        c0 = time.process_time()
        study.optimize(objective, n_trials=trials)
        out[label] = {"cpu_ms": 1e3 * (time.process_time() - c0) / trials}
    return out


# --------------------------------------------------------------------------- kernel
@njit(cache=True)
def floor_loop(arrival, exit_layer, ms, e_ps, u_ps, done, energy, util):
    """FCFS batch 1 with no scheduler: the arithmetic of every layer pass, nothing else.
    Returns the layer passes run."""
    now = 0.0
    passes = 0
    for i in range(arrival.shape[0]):
        if arrival[i] > now:
            now = arrival[i]
        e = 0.0
        u = 0.0
        for layer in range(exit_layer[i] + 1):
            now += ms[layer, 1]
            e += e_ps[layer, 1]
            u += u_ps[layer, 1]
            passes += 1
        done[i] = now
        energy[i] = e
        util[i] = u
    return passes


def kernel_and_metrics(requests: int, repeat: int = 5) -> dict:
    """Kernel ns per layer pass against :func:`floor_loop` (1 stream; the two alternate,
    ``repeat`` rounds, best of each: the machine's speed drifts between runs), and the
    per-stream metrics against the kernel (1 and 64 streams)."""
    from cost_models import latency_table, load_npu
    from dse.metrics import compute_metrics
    from dse.sim import ModelTables, simulate
    from workloads import Scenario, get_model

    design = load_npu(str(ROOT / "cost_models/designs/tpu_v1.toml"))
    model = get_model("resnet50")
    t = latency_table(design, model.layers)
    tables = [ModelTables(t.ms, t.energy_uj, t.utilisation, model.exit_layers)]
    iso = float(t.ms[:, 1].sum())
    out = {}
    for streams in (1, 64):
        sc = Scenario.from_dict({"name": "bench", "streams": [
            {"name": f"s{i}", "model": "resnet50", "arrival": "poisson",
             "rate_rps": 0.8e3 / iso / streams, "slo_ms": 5.0 * iso} for i in range(streams)]})
        tr = sc.trace(requests, 0)
        slo = sc.slo_ms()
        cols = (tr.arrival_ms, tr.stream, tr.model, tr.exit, slo, tables, "fcfs")
        simulate(*cols)  # compiled
        if streams == 1:
            exit_layer = np.asarray(model.exit_layers)[tr.exit]
            ps = t.energy_uj / np.maximum(np.arange(t.ms.shape[1]), 1)
            us = t.ms * t.utilisation / np.maximum(np.arange(t.ms.shape[1]), 1)
            bufs = [np.zeros(requests) for _ in range(3)]
            floor_loop(tr.arrival_ms, exit_layer, t.ms, ps, us, *bufs)  # compiled
        kernel = floor = None
        for _ in range(repeat):
            k = simulate(*cols).counters["cpu_seconds"]
            kernel = k if kernel is None else min(kernel, k)
            if streams == 1:
                c0 = time.thread_time()
                passes = floor_loop(tr.arrival_ms, exit_layer, t.ms, ps, us, *bufs)
                f = time.thread_time() - c0
                floor = f if floor is None else min(floor, f)
        res = simulate(*cols)
        names = [s.name for s in sc.streams]
        c0 = time.process_time()
        for _ in range(repeat):
            compute_metrics(res, slo, names)
        metrics = (time.process_time() - c0) / repeat
        row = {"kernel_s": kernel, "metrics_s": metrics, "metrics_vs_kernel": metrics / kernel}
        if streams == 1:
            steps = res.counters["layer_steps"]
            row.update({"kernel_ns_per_pass": 1e9 * kernel / steps,
                        "floor_ns_per_pass": 1e9 * floor / passes,
                        "gap": (kernel / steps) / (floor / passes),
                        "same_completions": bool(np.array_equal(res.completion_ms, bufs[0]))})
        out[f"{streams} streams"] = row
    return out


# --------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30, help="trials timed per storage")
    ap.add_argument("--requests", type=int, default=200_000, help="kernel/metrics trace")
    ap.add_argument("--postgres", help="PostgreSQL URL of a test database (optional)")
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args()
    out = {}
    print(f"load average at start: {os.getloadavg()[0]:.1f} "
          f"({os.cpu_count()} CPUs)", flush=True)

    out["startup"] = s = startup()
    print("\nstart-up (best of 5 new processes)")
    base = s["python -c pass"]
    for name, r in s.items():
        print(f"  {name:<38} wall {r['wall_s']:6.3f} s  CPU {r['cpu_s']:6.3f} s  "
              f"(+{r['cpu_s'] - base['cpu_s']:.3f} s CPU over python)", flush=True)

    out["compile"] = c = compile_times()
    print("\ncompile, CPU seconds (new process; cold = empty Numba cache, warm = loaded)")
    for step in c["cold"]:
        print(f"  {step:<20} cold {c['cold'][step]:6.2f}   warm {c['warm'][step]:6.2f}",
              flush=True)

    out["trials"] = t = cpu_per_trial(args.trials, args.postgres)
    print(f"\nCPU per quickstart trial (5 complete trials to warm up, then until "
          f"{args.trials} more complete: {t['in-memory']['trials']} trials, the pruned "
          "ones included)")
    mem = t["in-memory"]["cpu_ms"]
    for name, r in t.items():
        print(f"  {name:<18} {r['cpu_ms']:7.1f} ms CPU ({r['cpu_ms'] / mem:4.1f}x in-memory), "
              f"wall {r['wall_ms']:7.1f} ms, {r['storage_calls']:5.1f} storage calls",
              flush=True)
    sp = t["in-memory"]["split_ms"]
    print(f"  in-memory trial: evaluation {sp['evaluate']:.1f} ms (simulations "
          f"{sp['simulate']:.1f} ms, their kernel {sp['kernel']:.1f} ms), the rest (Optuna, "
          f"the study's own bookkeeping) {mem - sp['evaluate']:.1f} ms")

    out["bare_optuna"] = b = bare_optuna(args.trials, args.postgres)
    print(f"\nCPU per trial of a bare Optuna study of the same shape (8 parameters, one "
          f"user attr, Optuna's NSGA-II, no simulation; {args.trials} trials): the floor")
    for name, r in b.items():
        print(f"  {name:<18} {r['cpu_ms']:7.1f} ms CPU; with the quickstart's in-memory "
              f"trial: {r['cpu_ms'] - b['in-memory']['cpu_ms'] + mem:7.1f} ms "
              f"({(r['cpu_ms'] - b['in-memory']['cpu_ms'] + mem) / mem:4.1f}x in-memory)",
              flush=True)

    out["kernel"] = k = kernel_and_metrics(args.requests)
    one = k["1 streams"]
    print(f"\nkernel (fcfs, ResNet-50, {args.requests} requests, load 0.8)")
    print(f"  kernel {one['kernel_ns_per_pass']:.1f} ns per layer pass, floor loop "
          f"{one['floor_ns_per_pass']:.1f} ns: gap {one['gap']:.2f}x "
          f"(same completions: {one['same_completions']})")
    for name, r in k.items():
        print(f"  per-stream metrics, {name:<10} {1e3 * r['metrics_s']:7.1f} ms = "
              f"{r['metrics_vs_kernel']:.2f}x the kernel ({1e3 * r['kernel_s']:.1f} ms)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
