"""Simulator speed: simulated requests/s of every policy, Numba kernel vs the reference.

ResNet-50 with its four exits (zoo exit profile) on a design where batching pays
(default: the TPU-v1-like design, 4x fewer ms per sample at batch 8 than at batch 1), one
Poisson stream at 0.8 of the design's capacity (capacity = the best b / batch time to the
last exit over b <= max_batch), SLO 5x the isolated latency.  The kernel time excludes JIT
(compiled before timing); the reference is the plain-Python simulator of the tests, run
on a shorter prefix of the same trace.  Ratios compare the two in the same process.
``--against REV`` also times the kernel of git revision ``REV`` (exported into
``--ref-dir``, default a temporary folder, and run in a subprocess right before each
policy's timing here), so one run shows a change's before and after.

    python benchmarks/bench_sim.py [--requests 1000000] [--reference-requests 20000]
                                   [--policies fluid,lazy] [--against REV [--ref-dir DIR]]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from check_identity import export_revision, run_in_tree  # noqa: E402  (this folder: run as a script)
from reference_sim import reference_simulate  # noqa: E402

from cost_models import latency_table, load_npu  # noqa: E402
from dse.sim import POLICIES, ModelTables, simulate  # noqa: E402
from workloads import Scenario, get_model  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--reference-requests", type=int, default=20_000)
    ap.add_argument("--npu", default=str(ROOT / "cost_models/designs/tpu_v1.toml"))
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--load", type=float, default=0.8)
    ap.add_argument("--repeat", type=int, default=3, help="best of N kernel runs")
    ap.add_argument("--policies", default="all")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--against", help="git revision whose kernel is timed too (before/after)")
    ap.add_argument("--ref-dir", help="where to export --against (kept; default: temporary)")
    args = ap.parse_args()
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(args.ref_dir or Path(tmp) / "ref")
            export_revision(args.against, tree)
            return run(args, tree)
    return run(args, None)


def _time_in(tree: Path, name: str, args) -> dict:
    """This benchmark's kernel row for one policy, run on the code of ``tree``."""
    out = run_in_tree(tree, [__file__, "--policies", name, "--reference-requests", "0",
                             "--json", "--requests", str(args.requests), "--npu", args.npu,
                             "--max-batch", str(args.max_batch), "--load", str(args.load),
                             "--repeat", str(args.repeat)])
    return json.loads(out[out.index("\n[") + 1:])[0]


def run(args, ref_tree: Path | None) -> int:
    design = load_npu(args.npu)
    model = get_model("resnet50")
    b = args.max_batch
    full = latency_table(design, model.layers)
    capacity_rps = max(k / full.ms[:, k].sum() for k in range(1, b + 1)) * 1e3
    iso = full.ms[:, 1].sum()
    sc = Scenario.from_dict({"name": "bench", "streams": [{
        "name": "cam", "model": "resnet50", "arrival": "poisson",
        "rate_rps": args.load * capacity_rps, "slo_ms": 5.0 * iso}]})
    trace = sc.trace(args.requests, 0)
    slo = sc.slo_ms()
    names = list(POLICIES) if args.policies == "all" else args.policies.split(",")
    rows = []
    print(f"resnet50 on {Path(args.npu).stem}, Poisson {args.load * capacity_rps:.1f} req/s "
          f"(load {args.load} of {capacity_rps:.1f} req/s, max batch {b}), "
          f"{args.requests} requests (reference {args.reference_requests})", flush=True)
    print("wall-clock and thread-CPU rates (CPU time is robust to a busy machine)")
    print(f"{'policy':<10} {'numba req/s':>14} {'reference req/s':>16} {'ratio':>8} "
          f"{'numba cpu r/s':>14} {'ref cpu r/s':>14} {'cpu ratio':>8} "
          f"{'mean batch':>10} {'steps/req':>9}"
          + (f" {args.against + ' cpu r/s':>16} {'cpu x':>6}" if ref_tree else ""),
          flush=True)
    for name in names:
        pol = POLICIES[name]
        params = {"max_batch": b} if "max_batch" in pol.params else {}
        d = design.sliced(pol.instances(pol.resolve(params))) if pol.instances_param else design
        t = latency_table(d, model.layers)
        tables = [ModelTables(t.ms, t.energy_uj, t.utilisation, model.exit_layers)]
        cols = (trace.arrival_ms, trace.stream, trace.model, trace.exit, slo, tables, name,
                params)
        before = _time_in(ref_tree, name, args) if ref_tree else None
        wall = cpu = None
        for _ in range(args.repeat):
            res = simulate(*cols)
            wall = res.sim_seconds if wall is None else min(wall, res.sim_seconds)
            c = res.counters["cpu_seconds"]
            cpu = c if cpu is None else min(cpu, c)
        numba_rps = args.requests / wall
        numba_cpu_rps = args.requests / cpu
        n_ref = args.reference_requests
        ref_rps = ref_cpu_rps = float("nan")
        if n_ref > 0:
            t0, c0 = time.perf_counter(), time.thread_time()
            reference_simulate(*(c[:n_ref] for c in cols[:4]), *cols[4:])
            ref_rps = n_ref / (time.perf_counter() - t0)
            ref_cpu_rps = n_ref / (time.thread_time() - c0)
        mean_batch = float((res.batch_sum / (res.exit_layer + 1))[~res.dropped].mean())
        steps = res.counters["layer_steps"] / args.requests
        rows.append({"policy": name, "numba_rps": numba_rps, "reference_rps": ref_rps,
                     "ratio": numba_rps / ref_rps, "numba_cpu_rps": numba_cpu_rps,
                     "reference_cpu_rps": ref_cpu_rps, "cpu_ratio": numba_cpu_rps / ref_cpu_rps,
                     "mean_batch": mean_batch, "steps_per_request": steps,
                     "dropped": int(res.dropped.sum())})
        if before:
            rows[-1]["before_cpu_rps"] = before["numba_cpu_rps"]
            rows[-1]["before_steps_per_request"] = before["steps_per_request"]
        print(f"{name:<10} {numba_rps:>14,.0f} {ref_rps:>16,.0f} {numba_rps / ref_rps:>8.0f} "
              f"{numba_cpu_rps:>14,.0f} {ref_cpu_rps:>14,.0f} "
              f"{numba_cpu_rps / ref_cpu_rps:>8.0f} {mean_batch:>10.2f} {steps:>9.2f}"
              + (f" {before['numba_cpu_rps']:>16,.0f} "
                 f"{numba_cpu_rps / before['numba_cpu_rps']:>6.2f}" if before else ""),
              flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
