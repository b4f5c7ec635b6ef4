"""Bit-identity check: the same studies and simulations give the same numbers on two trees.

Usage: python3 benchmarks/check_identity.py --against REV [--ref-dir DIR] [--json OUT]
       python3 benchmarks/check_identity.py --dump OUT.json

``--dump`` runs, in this tree, (1) every registered policy on three traces (one and two
models, a bursty and a Poisson stream; the all-Numba loop) and records each run's
per-request arrays and counters, and (2) small studies with a fixed seed, one per sampler
(nsga2, tpe, random, grid, plus gp when PyTorch is installed), with multi-fidelity
pruning and a searched policy, recording every trial's number, state, parameters,
values, constraints and user attrs (wall-clock fields removed).  ``--against REV``
exports git revision ``REV`` into a directory (``--ref-dir``, kept so that its Numba
cache is reused; default: a temporary one), dumps there and here, and prints every
difference; exit code 1 when there is one.

Changes that are allowed by design (a sampler that stops re-proposing designs it
already holds, for example) show up here as differences in the affected studies: the
report names each differing study and trial, so such a change can be checked to be
exactly that.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STUDY = """
[study]
name = "identity-{sampler}"
sampler = "{sampler}"
n_trials = {n_trials}
seed = 17
storage = "sqlite:///{db}"
objectives = [{{ metric = "slo_attainment", direction = "maximize" }},
              {{ metric = "area_mm2", direction = "minimize" }}]
{options}
[study.constraints]
max_area_mm2 = 40.0

[scenario]
name = "identity"
[[scenario.streams]]
name = "cam"
model = "mobilenetv2"
arrival = "bursty"
rate_rps = 300
slo_ms = 20
[[scenario.streams]]
name = "door"
model = "resnet18"
arrival = "poisson"
rate_rps = 60
slo_ms = 60

[fidelity]
requests = 600
short_requests = {short}
prune_after = 4

[space.npu]
pe_count = [16, 32, 64, 128]
pe_width = [8, 16]
batching = ["r", "fluid"]
stack_factors = [[1], [1, 2]]

[space.policy]
name = {policies}
{policy_space}
"""

# samplers -> (n_trials, options, short trace, policies, policy space)
STUDIES = {
    "nsga2": (40, 'sampler_options = { population_size = 8 }', 200,
              '["fluid", "static", "lazy"]',
              "[space.policy.fluid]\nmax_batch = { low = 2, high = 8 }\n"
              "refill_level = { low = 0.0, high = 1.0, step = 0.5 }\n"
              "[space.policy.static]\nmax_batch = [2, 8]\n"),
    "tpe": (30, "", 200, '["fluid", "adaptive"]',
            "[space.policy.fluid]\nmax_batch = { low = 2, high = 8 }\n"),
    "random": (30, "", 0, '["fcfs", "prema", "bcedge", "fluid"]',
               "[space.policy.bcedge]\ninstances = [1, 2]\n"),
    "grid": (None, "", 0, '"fluid"', "[space.policy.fluid]\nmax_batch = [2, 8]\n"),
    "gp": (20, "", 0, '"fluid"', "[space.policy.fluid]\nmax_batch = { low = 2, high = 8 }\n"),
}

WALL = ("sim_seconds", "requests_per_second", "worker")  # not results


def _traces():
    from workloads import Scenario

    one = Scenario.from_dict({"name": "one", "streams": [
        {"name": "cam", "model": "resnet50", "arrival": "bursty", "rate_rps": 180.0,
         "slo_ms": 60.0}]})
    two = Scenario.from_dict({"name": "two", "streams": [
        {"name": "cam", "model": "mobilenetv2", "arrival": "poisson", "rate_rps": 400.0,
         "slo_ms": 15.0},
        {"name": "door", "model": "resnet18", "arrival": "bursty", "rate_rps": 120.0,
         "slo_ms": 40.0}]})
    return {"one": one, "two": two}


def dump_simulations() -> dict:
    """Every policy on every trace: per-request arrays and counters."""
    import numpy as np

    import cost_models
    from cost_models import load_npu
    from dse.evaluation import evaluate
    from dse.sim import POLICIES

    design = load_npu(Path(cost_models.__file__).parent / "designs/edge_small.toml")
    out = {}
    for tname, scenario in _traces().items():
        for pname, pol in POLICIES.items():
            params = {"max_batch": 8} if "max_batch" in pol.params else {}
            if pol.instances_param:
                params[pol.instances_param] = 2
            ev = evaluate(design, scenario, pname, params, n_requests=3000, seed=3)
            req = {k: np.asarray(v).tolist() for k, v in ev.requests.items()}
            metrics = {k: v for k, v in ev.metrics.items() if k not in WALL}
            out[f"{tname}/{pname}"] = {"requests": _nan_safe(req), "metrics": _nan_safe(metrics)}
    return out


def dump_studies(workdir: Path) -> dict:
    import optuna

    from dse.search import run
    from dse.spec import parse_spec

    out = {}
    for sampler, (n, options, short, policies, space) in STUDIES.items():
        if sampler == "gp":
            try:
                import torch  # noqa: F401
            except ImportError:
                continue
        text = STUDY.format(sampler=sampler, n_trials=n if n is not None else 24,
                            db=workdir / f"{sampler}.db", options=options, short=short,
                            policies=policies, policy_space=space)
        if n is None:
            text = text.replace("n_trials = 24\n", "")
        spec = parse_spec(text, source=f"<identity-{sampler}>", base=workdir)
        res = run(spec)
        rows = []
        for t in res.study.get_trials(deepcopy=False):
            attrs = {k: v for k, v in t.user_attrs.items() if k not in WALL}
            if "metrics" in attrs:
                attrs["metrics"] = {k: v for k, v in attrs["metrics"].items() if k not in WALL}
            rows.append({"number": t.number, "state": t.state.name, "params": t.params,
                         "values": t.values, "constraints": t.constraints,
                         "user_attrs": attrs})
        out[sampler] = _nan_safe(rows)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
    return out


def _nan_safe(obj):
    """JSON-comparable copy: NaN and infinities as strings."""
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else repr(obj)
    if isinstance(obj, dict):
        return {str(k): _nan_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nan_safe(v) for v in obj]
    return obj


def dump(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = {"simulations": dump_simulations(), "studies": dump_studies(Path(tmp))}
    path.write_text(json.dumps(data, sort_keys=True))


def export_revision(rev: str, where: Path) -> None:
    """``git archive`` of ``rev`` into ``where`` (kept when it exists: its Numba cache too)."""
    if (where / "dse").is_dir():
        return
    if where.exists() and not where.is_dir():
        raise SystemExit(f"{Path(sys.argv[0]).name}: --ref-dir: {where} is not a folder")
    known = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                            f"{rev}^{{commit}}"], capture_output=True)
    if known.returncode:
        raise SystemExit(f"{Path(sys.argv[0]).name}: --against: {rev!r} is not a commit of "
                         "this repository (give a hash, tag or branch)")
    where.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)


def run_in_tree(tree: Path, argv: list[str]) -> str:
    """Stdout of ``python argv`` run on the code of ``tree`` (its folder and import
    path); stderr passes through, so a failure shows its traceback."""
    return subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.PIPE,
                          text=True, cwd=str(tree),
                          env=dict(os.environ, PYTHONPATH=str(tree))).stdout


def _dump_in(tree: Path, out: Path) -> None:
    run_in_tree(tree, [str(ROOT / "benchmarks" / "check_identity.py"), "--dump", str(out)])


def differences(ref: dict, new: dict) -> list[str]:
    """One line per differing simulation, study or trial."""
    lines = []
    for key in sorted(set(ref["simulations"]) | set(new["simulations"])):
        if ref["simulations"].get(key) != new["simulations"].get(key):
            lines.append(f"simulation {key}: differs")
    for sampler in sorted(set(ref["studies"]) | set(new["studies"])):
        a, b = ref["studies"].get(sampler), new["studies"].get(sampler)
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"study {sampler}: only in {'new' if a is None else 'ref'}")
            continue
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
        first = f", first at trial {diff[0]}" if diff else ""
        lines.append(f"study {sampler}: {len(diff)} of {len(a)} / {len(b)} trials differ{first}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", help="write this tree's results to this JSON file")
    ap.add_argument("--against", help="git revision to compare this tree with")
    ap.add_argument("--ref-dir", help="where to export the revision (kept; default: temp)")
    args = ap.parse_args(argv)
    if args.dump:
        dump(Path(args.dump))
        return 0
    if not args.against:
        ap.error("give --dump or --against")
    with tempfile.TemporaryDirectory() as tmp:
        ref_tree = Path(args.ref_dir) if args.ref_dir else Path(tmp) / "ref"
        export_revision(args.against, ref_tree)
        _dump_in(ref_tree, Path(tmp) / "ref.json")
        _dump_in(ROOT, Path(tmp) / "new.json")
        ref = json.loads((Path(tmp) / "ref.json").read_text())
        new = json.loads((Path(tmp) / "new.json").read_text())
    lines = differences(ref, new)
    n_sim, n_st = len(new["simulations"]), len(new["studies"])
    for line in lines:
        print(line)
    print(f"{n_sim} simulations, {n_st} studies compared with {args.against}: "
          f"{'identical' if not lines else f'{len(lines)} differ'}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
