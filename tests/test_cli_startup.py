"""Start-up cost of the ``dse`` command: help, catalogues and input errors import no
numeric stack.

``dse --help``, a subcommand's ``--help`` and an argument error build the parser only;
numba (~0.4 s to import), pandas (~0.2 s), numpy (~0.1 s), optuna and the model packages
load when a command runs.  The catalogue commands (``dse policies``, ``dse samplers``,
``dse metrics``) and the one-line input errors that need no model (a missing spec, a TOML
syntax error, a mistyped field or a bad value in a spec's ``[study]``, ``[fidelity]`` or
``[space]``, an unknown policy, a bad flag value, a missing design file) import no numpy;
an input error that needs the model zoo (an unknown model, a mistake in a spec's
``[scenario]``) may load numpy and the model packages, never numba, pandas, optuna, plotly
or scipy: the input is checked before anything that needs them loads
(``benchmarks/bench_trials.py`` measures the start-up time).
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
RUNTIME = ("numba", "pandas", "optuna", "plotly", "scipy")
NPU = str(ROOT / "cost_models" / "designs" / "edge_small.toml")


def _modules(argv: list[str], cwd=None) -> tuple[set[str], int]:
    """Every module a ``dse`` run imported, and its exit code."""
    code = ("import json, sys\nfrom dse.cli import main\ntry:\n    rc = main(sys.argv[1:])\n"
            "except SystemExit as exc:\n    rc = exc.code\n"
            "print(json.dumps([rc, sorted(sys.modules)]), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120, cwd=cwd)
    *lines, last = proc.stderr.strip().splitlines()
    rc, modules = json.loads(last)
    if rc == 2:  # an input error is one line
        assert len(lines) == 1 and lines[0].startswith("dse: error: "), lines
    return set(modules), rc


def _imported(argv: list[str], cwd=None) -> tuple[set[str], int]:
    """The top-level packages a ``dse`` run imported, and its exit code."""
    modules, rc = _modules(argv, cwd)
    return {m.split(".")[0] for m in modules}, rc


@pytest.mark.parametrize("argv,rc", [(["--help"], 0), (["run", "--help"], 0),
                                     (["simulate", "--help"], 0), (["run"], 2),
                                     (["run", "s.toml", "--workers", "x"], 2)])
def test_help_and_argument_errors_import_no_numeric_stack(argv, rc):
    top, code = _imported(argv)
    assert code == rc
    assert "dse" in top
    assert not top & set(HEAVY), sorted(top & set(HEAVY))


@pytest.mark.parametrize("argv", [["policies"], ["samplers"], ["metrics"]])
def test_catalogues_import_no_numpy(argv):
    top, code = _imported(argv)
    assert code == 0
    assert not top & {"numpy", *RUNTIME}, sorted(top & {"numpy", *RUNTIME})


#: Mistakes in a copy of ``studies/quickstart.toml``: file name -> (text, replacement).
SPEC_MISTAKES = {
    "typo.toml": ("\nn_trials = ", "\nn_trails = "),                  # a mistyped field
    "syntax.toml": ("\n[study]\n", "\n[study\n"),                     # TOML syntax
    "type.toml": ("\nn_trials = 60", '\nn_trials = "60"'),            # a wrong value type
    "range.toml": ("\nn_trials = 60", "\nn_trials = 0"),              # out of range
    "sampler.toml": ('\nsampler = "nsga2"', '\nsampler = "nsga"'),    # an unknown name
    "fidelity.toml": ("\nrequests = ", "\nrequest = "),
    "space.toml": ("\npe_count = ", "\npe_cont = "),
    "param.toml": ("max_batch = { low = 2,", "max_batch = { low = 0,"),
    "scenario.toml": ("\nrate_rps = 150", '\nrate_rps = "150"'),
}


def _write_specs(folder: Path) -> None:
    spec = (ROOT / "studies" / "quickstart.toml").read_text()
    for name, (old, new) in SPEC_MISTAKES.items():
        assert spec.count(old) == 1, old
        (folder / name).write_text(spec.replace(old, new))


SIMULATE = ["--npu", NPU, "--model", "resnet18", "--rate", "10", "--slo-ms", "50"]


@pytest.mark.parametrize("argv", [
    ["run", "missing.toml"],
    ["run", "typo.toml"],
    ["run", "scenario.toml"],
    ["worker", "typo.toml"],
    ["simulate", *SIMULATE, "--policy", "nope"],
    ["simulate", *SIMULATE, "--policy", "static", "--param", "max_batch=0"],
    ["compare", "--npu", NPU, "--model", "resnet18", "--policies", "fcfs,nope"],
    ["compare", "--npu", NPU, "--model", "resnet18", "--loads", "0.5,x"],
    ["cost", "--npu", NPU, "--model", "nope"],
    ["cost", "--npu", "missing.toml", "--model", "resnet18"],
    ["workloads", "show", "nope"],
], ids=lambda argv: " ".join(a if a != NPU else "NPU" for a in argv))
def test_input_errors_are_found_before_the_runtime_loads(argv, tmp_path):
    """One-line input errors: a missing or mistyped spec (a field name typo), an unknown
    policy or parameter value, a bad flag value, an unknown model, a missing design."""
    _write_specs(tmp_path)
    top, code = _imported(argv, cwd=tmp_path)
    assert code == 2
    assert not top & set(RUNTIME), sorted(top & set(RUNTIME))


@pytest.mark.parametrize("argv", [
    ["run", "missing.toml"],
    *(["run", name] for name in SPEC_MISTAKES if name != "scenario.toml"),
    ["worker", "typo.toml"],
    ["status", "range.toml"],
    ["simulate", *SIMULATE, "--policy", "nope"],
    ["simulate", *SIMULATE, "--policy", "static", "--param", "max_batch=0"],
    ["compare", "--npu", NPU, "--model", "resnet18", "--policies", "fcfs,nope"],
    ["compare", "--npu", NPU, "--model", "resnet18", "--loads", "0.5,x"],
    ["cost", "--npu", "missing.toml", "--model", "resnet18"],
], ids=lambda argv: " ".join(a if a != NPU else "NPU" for a in argv))
def test_input_errors_without_a_model_import_no_numpy(argv, tmp_path):
    """Mistakes found without the model zoo are reported before NumPy loads: a spec's
    file, TOML, ``[study]``, ``[fidelity]`` and ``[space]`` come before its scenario."""
    _write_specs(tmp_path)
    top, code = _imported(argv, cwd=tmp_path)
    assert code == 2
    assert not top & {"numpy", *RUNTIME}, sorted(top & {"numpy", *RUNTIME})


#: What the document's checks (file, TOML, tables, ``[study]`` key names) need none of:
#: the typed spec (dataclasses), the catalogues and the other command groups.
SPEC_TYPES = ("dse.spec.study", "dse.spec.space", "dse.metrics", "dse.search._samplers",
              "dse.cli.sim", "dse.cli.report", "hashlib")


@pytest.mark.parametrize("argv", [["run", "missing.toml"], ["run", "typo.toml"],
                                  ["run", "syntax.toml"], ["status", "typo.toml"]],
                         ids=" ".join)
def test_spec_document_errors_load_no_typed_spec(argv, tmp_path):
    _write_specs(tmp_path)
    modules, code = _modules(argv, cwd=tmp_path)
    assert code == 2
    assert not modules & set(SPEC_TYPES), sorted(modules & set(SPEC_TYPES))


def test_each_command_parses_with_its_group_alone():
    """``dse COMMAND`` registers only the group that lists ``COMMAND`` in
    ``COMMAND_MODULES``: each group adds exactly the commands listed for it."""
    from dse.cli import COMMAND_MODULES, build_parser

    def commands(parser) -> list[str]:
        return list(parser._subparsers._group_actions[0].choices)

    assert commands(build_parser()) == [c for cs in COMMAND_MODULES.values() for c in cs]
    assert commands(build_parser("nope")) == commands(build_parser())
    for group in COMMAND_MODULES.values():
        for command in group:
            assert commands(build_parser(command)) == list(group)
