"""Numba's cache never runs the kernel with functions compiled for another state layout.

The policy-independent kernel functions compile the row constants of
``dse/sim/_state.py`` in, but Numba checks a cached function against the timestamp of its
own file only (``_kernel.py``).  Their first argument's type carries a digest of
``_state.py`` (``dse.sim._dispatch.LAYOUT``), so an edited layout compiles them afresh.
The test renumbers two rows in a copy of the package, with the Numba cache of a first
run kept: the second run must give the same completions (stale functions would read
and write the wrong rows).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import numpy as np
from dse.sim import ModelTables, simulate
ms = np.array([[0.0, 1.0, 1.6, 2.1]] * 4)
t = ModelTables(ms, ms, np.ones_like(ms), (1, 3))
rng = np.random.default_rng(0)
n = 300
arr = np.cumsum(rng.exponential(0.8, n))
res = simulate(arr, np.zeros(n, int), np.zeros(n, int), rng.integers(0, 2, n), [20.0], [t],
               "fcfs")
print(repr(res.completion_ms.tolist()))
"""


def _run(tree: Path, cache: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True,
                          env=env, cwd=tree, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_edited_state_layout_recompiles_the_shared_kernel_functions(tmp_path):
    tree = tmp_path / "tree"
    for pkg in ("dse", "cost_models", "workloads"):
        shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "numba-cache"
    before = _run(tree, cache)
    state = tree / "dse" / "sim" / "_state.py"
    text = state.read_text()
    assert "XI_CTX = 0 " in text and "XI_PHASE = 1 " in text
    state.write_text(text.replace("XI_CTX = 0 ", "XI_CTX = 1 ")  # swap two rows
                     .replace("XI_PHASE = 1 ", "XI_PHASE = 0 "))
    assert _run(tree, cache) == before
