"""The architecture of docs/architecture.md, checked: layers import one way, no import
cycles, a light package root, small modules, and every plug-in reachable everywhere."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from reference_sim import BATCH_DONE_HOOKS, REFERENCE_POLICIES

from dse.cli import main

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cost_models", "workloads", "dse")
#: The layer order, bottom first: a module may import its own layer and those below.
LAYERS = ("dse.common", "cost_models", "workloads", "dse.sim", "dse.metrics",
          "dse.evaluation", "dse.experiments", "dse.search", "dse.spec", "dse.report",
          "dse.rl", "dse.cli")
#: The two Numba kernels may be longer than every other module.
KERNELS = ("cost_models/_kernels.py", "dse/sim/_kernel.py")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int | None:
    if module == "dse.__main__":
        return LAYERS.index("dse.cli")
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return None  # the package root "dse": only __version__ and lazy attributes


def _target(name: str) -> str | None:
    """The module an import of ``name`` loads (the deepest existing one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    """Modules ``module`` imports: import statements anywhere (functions included), the
    ``*_MODULES`` registry tuples loaded with importlib and the modules of a package's
    ``lazy_exports``."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_target(a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                found.add(_target(f"{base}.{a.name}") if f"{base}.{a.name}" in MODULES
                          else _target(base))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
            found.update(_target(c.value.partition(":")[0]) for c in ast.walk(node)
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)
                         and c.value.startswith(PACKAGES))  # names loaded on first use
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.endswith("_MODULES") for t in node.targets):
            found.update(_target(e.value) for e in getattr(node.value, "elts", [])
                         if isinstance(e, ast.Constant) and isinstance(e.value, str))
    found.discard(None)
    found.discard(module)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if _layer(m) is None] == ["dse"]


def test_layers_import_one_way():
    wrong = [f"{m} ({LAYERS[_layer(m)]}) imports {t} ({LAYERS[_layer(t)]})"
             for m, targets in GRAPH.items() if m != "dse" for t in targets
             if t != "dse" and _layer(t) > _layer(m)]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                cycles.append(sorted(scc))

    sys.setrecursionlimit(10_000)
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_search_never_imports_report_and_library_never_the_cli():
    for m, targets in GRAPH.items():
        if m.startswith("dse.search"):
            assert not any(t.startswith("dse.report") for t in targets), m
        if not m.startswith("dse.cli") and m != "dse.__main__":
            assert not any(t.startswith("dse.cli") for t in targets), m


@pytest.mark.parametrize("package, allowed", [("dse", ("dse",)),
                                              ("cost_models", ("cost_models", "dse.common")),
                                              ("dse.common", ("dse.common",))])
def test_lower_layers_import_light(package, allowed):
    """Importing the root or a bottom layer pulls in nothing above it."""
    code = (f"import sys, {package}; print([m for m in sys.modules if m.split('.')[0] in "
            f"{PACKAGES!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    loaded = [m for m in ast.literal_eval(out) if m != "dse"]  # the light root
    assert all(any(m == a or m.startswith(a + ".") for a in allowed) for m in loaded), loaded


def test_no_module_but_the_kernels_is_long():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= set(KERNELS), long


def test_cli_modules_hold_no_experiment_or_plotting_logic():
    """Commands parse, call the library and print: no figures, no load sweeps."""
    for m, path in MODULES.items():
        if m.startswith("dse.cli"):
            tree = ast.parse(path.read_text())
            imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                        for a in n.names} | {n.module for n in ast.walk(tree)
                                             if isinstance(n, ast.ImportFrom)}
            assert not any(str(i).startswith("plotly") for i in imported), m
            assert "scaled(" not in path.read_text(), m


def test_library_never_prints_or_exits():
    for m, path in MODULES.items():
        if m.startswith("dse.cli") or m == "dse.__main__":
            continue
        tree = ast.parse(path.read_text())
        calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
        names = {c.id for c in calls if isinstance(c, ast.Name)}
        attrs = {f"{c.value.id}.{c.attr}" for c in calls
                 if isinstance(c, ast.Attribute) and isinstance(c.value, ast.Name)}
        assert "print" not in names, m
        assert not {"sys.exit", "os._exit"} & attrs, m


# --------------------------------------------------------------------------- plug-ins
def _cli_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _doc_rows(doc: str) -> set[str]:
    """First cells of the markdown table rows of a docs page."""
    return set(re.findall(r"^\| `?([\w.-]+)`? \|", (ROOT / "docs" / doc).read_text(), re.M))


SPEC = """
[study]
name = "walk"
sampler = "{sampler}"
n_trials = 2
objectives = [{{ metric = "{metric}" }}]
[scenario]
name = "s"
[[scenario.streams]]
name = "cam"
model = "{model}"
arrival = "{arrival}"
{arrival_params}
rate_rps = 10
slo_ms = 50
[space.npu]
pe_count = 64
[space.policy]
name = "{policy}"
"""


def _spec(tmp_path, **kw):
    from dse.spec import parse_spec

    kw = {"sampler": "random", "metric": "slo_attainment", "model": "alexnet",
          "arrival": "poisson", "arrival_params": "", "policy": "fcfs", **kw}
    return parse_spec(SPEC.format(**kw), source="walk.toml", base=tmp_path)


def test_every_policy_is_reachable(capsys, tmp_path):
    from dse.sim import POLICIES

    listed = {p["name"] for p in _cli_json(capsys, "policies")}
    for name, policy in POLICIES.items():
        assert _spec(tmp_path, policy=name).space.policy.values == (name,)
        assert name in listed and name in _doc_rows("simulator.md")
        assert name in REFERENCE_POLICIES  # the reference simulator has its rules
        for hook in (policy.decide, policy.continues_at, policy.on_batch_done):
            assert hasattr(hook, "py_func")  # Numba functions the kernel inlines
    assert set(BATCH_DONE_HOOKS) <= set(POLICIES)
    assert {p for p in POLICIES if POLICIES[p].on_batch_done.py_func.__name__ !=
            "no_batch_hook"} == set(BATCH_DONE_HOOKS)


def test_policies_read_parameters_by_name():
    """Kernel code reads ``p[P.name]`` (slots derived from the declared parameters),
    never a position such as ``p[0]``."""
    for path in (ROOT / "dse" / "sim" / "policies").glob("*.py"):
        assert not re.search(r"\bp\[\d", path.read_text()), path.name


def test_every_metric_is_reachable(capsys, tmp_path):
    from dse.common import InputError
    from dse.metrics import METRICS

    listed = {m["name"] for m in _cli_json(capsys, "metrics")}
    for name, metric in METRICS.items():
        assert name in listed and name in _doc_rows("studies.md")
        if metric.objective:
            spec = _spec(tmp_path, metric=name)
            assert spec.objectives == [(name, metric.direction)]
        else:
            with pytest.raises(InputError, match="unknown objective"):
                _spec(tmp_path, metric=name)


def test_every_sampler_is_reachable(capsys, tmp_path):
    from dse.search import SAMPLERS

    listed = {s["name"] for s in _cli_json(capsys, "samplers")}
    for name, sampler in SAMPLERS.items():
        assert name in listed and name in _doc_rows("studies.md")
        if sampler.missing() is None:
            assert _spec(tmp_path, sampler=name).sampler == name


def test_every_arrival_process_is_reachable(capsys, tmp_path):
    from workloads import ARRIVALS

    (tmp_path / "t.csv").write_text("timestamp\n0\n5\n")
    listed = {a["name"] for a in _cli_json(capsys, "workloads", "arrivals")}
    for name in ARRIVALS:
        params = 'path = "t.csv"' if name == "trace" else ""
        spec = _spec(tmp_path, arrival=name, arrival_params=params)
        assert spec.scenario.streams[0].arrival == name
        assert name in listed and name in _doc_rows("workloads.md")


def test_every_model_is_reachable(capsys, tmp_path):
    from workloads import list_models

    listed = {m["name"] for m in _cli_json(capsys, "workloads")}
    for name in list_models():
        assert _spec(tmp_path, model=name).scenario.models == [name]
        assert name in listed and name in _doc_rows("workloads.md")
