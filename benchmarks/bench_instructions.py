"""Kernel and compile cost as instructions executed (valgrind's cachegrind), which, unlike
CPU time on a shared machine, do not move from one run to the next.

* kernel: the instructions of the simulation kernel on the ``bench_trials.py`` kernel
  trace (ResNet-50, one Poisson stream at 0.8 of the batch-1 capacity, fcfs unless
  ``--policy``): a run that prepares three simulations and runs the kernel on all three,
  minus one that prepares three and runs one, halved, so that start-up, the trace and the
  state's construction cancel out; printed per request and per layer pass.
* ``--compile``: the instructions of a cold compile (an empty Numba cache) of the
  cost-model kernels, and of the cost model plus the policy's simulator kernel; their
  difference is the policy's compile.

``--against REV`` measures git revision ``REV`` the same way (exported into
``--ref-dir``, default a temporary folder) and prints the ratios.  Needs ``valgrind``
(Debian package ``valgrind``); each kernel measurement takes ~2 minutes, each compile
~8.  The Numba target is pinned (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``) so that the
code compiled natively to warm the cache is the code valgrind runs.

    python benchmarks/bench_instructions.py [--policy fcfs] [--requests 20000]
                                            [--compile] [--against REV [--ref-dir DIR]]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_identity import export_revision  # noqa: E402  (this folder: run as a script)

#: A target valgrind emulates, pinned so that the native warm-up and the run under
#: valgrind compile to (and load from the cache) the same code.
TARGET = {"NUMBA_CPU_NAME": "haswell",
          "NUMBA_CPU_FEATURES": "+avx,+avx2,+fma,+sse4.2,+popcnt,+bmi,+bmi2"}

#: NumPy's BLAS threads spin while they wait for work, a varying number of instructions
#: that made two runs of the same code differ by up to ~1,000 per request.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

KERNEL = """
import gc
import sys
gc.disable()  # a collection inside the kernel runs of one count and not the other's
from cost_models import latency_table, load_npu
from dse.sim import ModelTables, _kernel
from dse.sim.core import prepare, warm
from workloads import Scenario, get_model
policy, reps, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = get_model("resnet50")
t = latency_table(load_npu("cost_models/designs/tpu_v1.toml"), model.layers)
tables = [ModelTables(t.ms, t.energy_uj, t.utilisation, model.exit_layers)]
iso = float(t.ms[:, 1].sum())
sc = Scenario.from_dict({"name": "bench", "streams": [{
    "name": "s0", "model": "resnet50", "arrival": "poisson", "rate_rps": 0.8e3 / iso,
    "slo_ms": 5.0 * iso}]})
tr = sc.trace(n, 0)
warm(policy)
runs = [prepare(tr.arrival_ms, tr.stream, tr.model, tr.exit, sc.slo_ms(), tables, policy)
        for _ in range(3)]  # three states in every run: only the kernel runs differ
for st, tb, key, p, _, _ in runs[:reps]:
    _kernel.run(st, tb, key, p)
print("layer_steps", int(runs[0][0].iv[_kernel.IV_STEPS]))
"""

COMPILE = """
import sys
from cost_models import latency_table, load_npu
from workloads import get_model
latency_table(load_npu("cost_models/designs/tpu_v1.toml"), get_model("mobilenetv2").layers)
if len(sys.argv) > 1:
    from dse import sim
    sim.warm(sys.argv[1])
"""


def _run(tree: Path, cache: Path, script: str, args: list[str], valgrind: bool) -> str:
    """Output (stdout and stderr) of ``script`` run on the code of ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache), PYTHONHASHSEED="0",
               **TARGET, **ONE_THREAD)
    cmd = [sys.executable, "-c", script, *args]
    if valgrind:
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no",
               "--cachegrind-out-file=/dev/null", *cmd]
    proc = subprocess.run(cmd, cwd=str(tree), env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed:\n{proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


def _instructions(out: str) -> int:
    return int(re.search(r"I\s+refs:\s+([\d,]+)", out).group(1).replace(",", ""))


def kernel(tree: Path, cache: Path, policy: str, n: int) -> dict:
    """Instructions of one simulation of ``n`` requests (warm cache)."""
    _run(tree, cache, KERNEL, [policy, "1", str(n)], valgrind=False)  # compile natively
    one = _run(tree, cache, KERNEL, [policy, "1", str(n)], valgrind=True)
    three = _run(tree, cache, KERNEL, [policy, "3", str(n)], valgrind=True)
    per_sim = (_instructions(three) - _instructions(one)) / 2
    steps = int(re.search(r"layer_steps (\d+)", one).group(1))
    return {"per_request": per_sim / n, "per_pass": per_sim / steps}


def compile_cost(tree: Path, policy: str) -> dict:
    """Instructions of a cold compile: the cost model, and the cost model + ``policy``."""
    out = {}
    for label, args in (("cost_model", []), ("with_policy", [policy])):
        with tempfile.TemporaryDirectory() as cache:
            out[label] = _instructions(_run(tree, Path(cache), COMPILE, args, valgrind=True))
    out["policy"] = out["with_policy"] - out["cost_model"]
    return out


def measure(tree: Path, args) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        row = kernel(tree, Path(cache), args.policy, args.requests)
    if args.compile:
        row.update(compile_cost(tree, args.policy))
    return row


def main() -> int:
    from dse.cli._common import int_at_least
    from dse.sim import POLICIES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="fcfs", choices=sorted(POLICIES))
    ap.add_argument("--requests", type=int_at_least(1, high=10_000_000), default=20_000)
    ap.add_argument("--compile", action="store_true", help="also a cold compile (~8 min)")
    ap.add_argument("--against", help="git revision measured too (before/after)")
    ap.add_argument("--ref-dir", help="where to export --against (kept; default: temporary)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench_instructions.py: valgrind is not installed "
                         "(Debian: apt install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(args.ref_dir or Path(tmp) / "ref") if args.against else None
        if ref is not None:  # first: a wrong revision or folder fails before the minutes
            export_revision(args.against, ref)
        rows = {"this tree": measure(ROOT, args)}
        if ref is not None:
            rows[args.against] = measure(ref, args)
    print(f"{args.policy}, ResNet-50, {args.requests} requests (instructions, cachegrind)")
    for name, row in rows.items():
        line = (f"  {name:>12}: {row['per_request']:8.1f} per request, "
                f"{row['per_pass']:6.2f} per layer pass")
        if args.compile:
            line += (f"; cold compile: cost model {row['cost_model'] / 1e9:.2f} G, "
                     f"{args.policy} {row['policy'] / 1e9:.2f} G")
        print(line)
    if args.against:
        new, old = rows["this tree"], rows[args.against]
        ratio = f"  ratio this / {args.against}: kernel {new['per_request'] / old['per_request']:.3f}x"
        if args.compile:
            ratio += f", {args.policy} compile {new['policy'] / old['policy']:.3f}x"
        print(ratio)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("bench_instructions.py: interrupted")
