"""Time to build the full latency + FBE mode table of one design (after JIT).

Usage: python3 benchmarks/bench_cost.py [--model resnet50] [--repeat 200]
Prints, per example design, the median wall time of ``latency_table`` for every layer of
the model (exit heads included) and every batch 1..32 over all modes the design allows.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from cost_models import latency_table, layer_array, load_npu

DESIGNS = Path(__file__).resolve().parents[1] / "cost_models" / "designs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    from workloads import get_model

    model = get_model(args.model)
    arr = layer_array(model.layers)
    print(f"model {model.name}: {arr.shape[0]} layers, batch 1..32")
    for path in sorted(DESIGNS.glob("*.toml")):
        d = replace(load_npu(path), max_batch=32)
        t0 = time.perf_counter()
        latency_table(d, arr)  # JIT compile (or load from the Numba cache)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            latency_table(d, arr)
            times.append(time.perf_counter() - t0)
        print(f"{path.stem:<14} batching={d.batching:<6} ks={list(d.stack_factors)!s:<10} "
              f"first call {first * 1e3:8.1f} ms, then median {statistics.median(times) * 1e3:.3f} ms "
              f"(min {min(times) * 1e3:.3f} ms) per table")


if __name__ == "__main__":
    main()
