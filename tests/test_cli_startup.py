"""Start-up cost of the ``dse`` command: help and argument errors import no numeric stack.

``dse --help``, a subcommand's ``--help`` and an argument error build the parser only;
numba (~0.4 s to import), pandas (~0.2 s), numpy, optuna and the model packages load
when a command runs (``benchmarks/bench_trials.py`` measures the start-up time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numba", "numpy", "pandas", "optuna", "plotly", "scipy", "cost_models", "workloads")


def _imported(argv: list[str]) -> tuple[set[str], int]:
    code = ("import json, sys\nfrom dse.cli import main\ntry:\n    rc = main(sys.argv[1:])\n"
            "except SystemExit as exc:\n    rc = exc.code\n"
            "print(json.dumps([rc, sorted(sys.modules)]), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    rc, modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return {m.split(".")[0] for m in modules}, rc


@pytest.mark.parametrize("argv,rc", [(["--help"], 0), (["run", "--help"], 0),
                                     (["simulate", "--help"], 0), (["run"], 2),
                                     (["run", "s.toml", "--workers", "x"], 2)])
def test_help_and_argument_errors_import_no_numeric_stack(argv, rc):
    top, code = _imported(argv)
    assert code == rc
    assert "dse" in top
    assert not top & set(HEAVY), sorted(top & set(HEAVY))
