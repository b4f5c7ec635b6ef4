"""Re-simulate an exported design: reproduce its stored metrics, or estimate them over seeds.

With the stored scenario, trace length and seed, the re-evaluated metrics equal the stored
ones exactly (every key except the wall-clock timings ``sim_seconds`` and
``requests_per_second``).  With ``seeds = K > 1`` the design is simulated on the traces of
seeds ``seed + i*R`` for ``i = 0..K-1`` (``R``: the stored replications, usually 1, so
that no two estimates share a trace) and each
numeric metric is summarised by its mean and a two-sided 95% confidence interval: for the
proportions of requests (SLO attainment, overall and per stream) and of sweep points (the
satisfaction metrics), Clopper-Pearson with an effective sample size
(:func:`dse.metrics.stats.proportion_ci`, Korn & Graubard 1998), which stays in [0, 1];
for every other metric the Student-t interval ``mean +- t_{0.975, K-1} * s / sqrt(K)``
(``s``: sample standard deviation), clipped at 0 (no metric is negative) and, for the
bounded shares ``utilisation`` and ``accuracy``, at 1.
"""

from __future__ import annotations

import math

from dse.common import InputError, did_you_mean
from dse.metrics.stats import mean_ci, proportion_ci
from dse.report.design_file import DesignFile
from dse.report.export import _clean, _drop_none

TIMING_KEYS = ("sim_seconds", "requests_per_second")


def build_inputs(design: DesignFile, *, scenario_path: str | None = None):
    """(NpuDesign, Scenario, policy name, params) from a design file (validated)."""
    from cost_models import NpuDesign
    from dse.sim import POLICIES
    from workloads import Scenario, load_scenario

    npu = NpuDesign.from_dict(design.npu, source=design.path)
    if scenario_path is not None:
        scenario = load_scenario(scenario_path)
    elif design.scenario:
        scenario = Scenario.from_dict(design.scenario, source=design.path)
    else:
        raise InputError("missing table [scenario]; give a scenario file", source=design.path,
                         field="scenario")
    if design.policy not in POLICIES:
        raise InputError(f"unknown policy '{design.policy}'"
                         f"{did_you_mean(design.policy, POLICIES)}", source=design.path,
                         field="policy.name", allowed=sorted(POLICIES))
    return npu, scenario, design.policy, dict(design.params)


def metrics_for(npu, scenario, policy: str, params: dict, *, n_requests: int, seed: int,
                design: DesignFile | None = None) -> dict:
    """The metrics a study stores for this design: ``dse.search.trial_metrics`` called with
    the fidelity recorded in the design file (``[provenance.fidelity]``: replications,
    warm-up, satisfaction sweep) and the metrics the study needed."""
    import inspect

    from dse.search import trial_metrics

    prov = design.provenance if design is not None else {}
    fid = dict(prov.get("fidelity") or {})
    kwargs = {"n_requests": n_requests, "seed": seed}
    accepted = inspect.signature(trial_metrics).parameters
    if "needed" in accepted:
        kwargs["needed"] = tuple(prov.get("needed") or ())
    for name, par in accepted.items():
        if name in kwargs or par.kind != inspect.Parameter.KEYWORD_ONLY:
            continue
        for key in (name, f"satisfaction_{name}"):  # spec field names of the sweep
            if key in fid:
                v = fid[key]
                kwargs[name] = tuple(v) if isinstance(v, list) else v
                break
    return trial_metrics(npu, scenario, policy, params, **kwargs)


def comparable(metrics: dict) -> dict:
    """Metrics as a design file stores them, without the wall-clock timing keys."""
    m = _drop_none(_clean(metrics))
    return {k: v for k, v in m.items() if k not in TIMING_KEYS}


def _diff(a, b, path: str, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k in TIMING_KEYS and not path:
                continue
            _diff(a.get(k), b.get(k), f"{path}.{k}" if path else str(k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out)
    else:
        same = a == b or (isinstance(a, float) and isinstance(b, float)
                          and math.isnan(a) and math.isnan(b))
        if not same:
            out.append((path, a, b))


def flatten_numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a metrics dict keyed by dotted path (streams by name or index)."""
    out: dict[str, float] = {}
    if isinstance(metrics, dict):
        items = metrics.items()
    elif isinstance(metrics, list):
        items = ((str(v.get("name", i)) if isinstance(v, dict) else str(i), v)
                 for i, v in enumerate(metrics))
    else:
        return out
    for k, v in items:
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, bool):
            out[key] = float(v)
        elif isinstance(v, (int, float)):
            out[key] = float(v)
        elif isinstance(v, (dict, list)):
            out.update(flatten_numbers(v, key))
    return out


def evaluate_design(design: DesignFile, *, scenario_path: str | None = None,
                    requests: int | None = None, seeds: int = 1, on_seed=None) -> dict:
    """Re-simulate ``design``; returns a JSON-ready result (see ``dse evaluate --json``).
    ``on_seed()`` is called after each trace (progress)."""
    if seeds < 1:
        raise InputError(f"must be >= 1, got {seeds}", field="seeds")
    n_req = requests if requests is not None else design.requests
    if n_req is None:
        raise InputError("the design file records no trace length; give requests",
                         source=design.path, field="provenance.requests")
    if n_req < 1:
        raise InputError(f"must be >= 1, got {n_req}", field="requests")
    seed0 = design.seed if design.seed is not None else 0
    npu, scenario, policy, params = build_inputs(design, scenario_path=scenario_path)
    seed_list = [seed0 + i * design.replications for i in range(seeds)]
    runs = []
    for s in seed_list:
        runs.append(comparable(metrics_for(npu, scenario, policy, params, n_requests=n_req,
                                           seed=s, design=design)))
        if on_seed is not None:
            on_seed()
    result: dict = {"design": design.path, "policy": policy, "requests": int(n_req),
                    "seeds": seed_list, "runs": runs}
    same_setup = (scenario_path is None and n_req == design.requests
                  and design.seed is not None and bool(design.metrics))
    if same_setup:
        diffs: list = []
        _diff(comparable(design.metrics), runs[0], "", diffs)
        result["reproduced"] = not diffs
        result["mismatches"] = [{"metric": p, "stored": a, "now": b} for p, a, b in diffs]
    else:
        result["reproduced"] = None
    if seeds > 1:
        flat = [flatten_numbers(r) for r in runs]
        keys = [k for k in flat[0] if all(k in f for f in flat)]
        counts = _counts(design, scenario, n_req, seed_list)
        summary = {}
        for k in keys:
            summary[k] = _interval(k, [f[k] for f in flat], counts)
        result["summary"] = summary
    return result


PROPORTIONS = ("slo_attainment",)  # shares of requests
SWEEP_SHARES = ("avg_slo_satisfaction", "tail_slo_satisfaction")  # shares of sweep points
BOUNDED = ("utilisation", "accuracy")  # averages of values in [0, 1]


def _counts(design: DesignFile, scenario, n_req: int, seeds) -> dict[str, float]:
    """Measured requests over all traces of all seeds, overall and per stream (the
    binomial counts of the proportion intervals), and sweep points (``sweep``)."""
    import numpy as np

    warmup = float(design.fidelity.get("warmup", 0.1))
    first = int(math.floor(warmup * n_req))
    names = [s.name for s in scenario.streams]
    out = dict.fromkeys(["overall", *names], 0.0)
    for s in seeds:
        for r in range(design.replications):
            per = np.bincount(scenario.trace(n_req, s + r).stream[first:],
                              minlength=len(names))
            out["overall"] += float(per.sum())
            for name, n in zip(names, per, strict=True):
                out[name] += float(n)
    fid = design.fidelity
    points = len(fid.get("satisfaction_loads") or ()) * len(fid.get("satisfaction_slo_x") or ())
    out["sweep"] = float(points * len(seeds))
    return out


def _interval(key: str, values, counts: dict) -> dict:
    """``{mean, ci95_low, ci95_high, method}`` of one metric over the seeds."""
    parts = key.split(".")
    base = parts[-1]
    if base in PROPORTIONS and parts[0] in ("overall", "streams"):
        n = counts.get("overall" if parts[0] == "overall" else parts[1], 0.0)
        mean, lo, hi = proportion_ci(values, n)
        method = "clopper-pearson"
    elif base in SWEEP_SHARES:
        mean, lo, hi = proportion_ci(values, counts["sweep"])
        method = "clopper-pearson"
    else:
        mean, lo, hi = mean_ci(values)
        method = "t"
        if math.isfinite(lo):  # no metric is negative; shares stay <= 1
            lo, hi = max(0.0, lo), (min(1.0, hi) if base in BOUNDED else hi)
    return {"mean": mean, "ci95_low": lo, "ci95_high": hi, "method": method}
