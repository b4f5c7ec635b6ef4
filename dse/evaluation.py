"""Evaluate one design + scenario + policy: latency tables, trace, simulation, metrics.

:func:`evaluate` is one simulation; :func:`satisfaction_sweep` the paper-style load x SLO
grid; :func:`trial_metrics` what a study stores for a design (replications averaged,
sweep metrics when needed), re-exported as ``dse.search.trial_metrics``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import cost_models
from cost_models import latency_table, load_npu
from dse.common import InputError
from dse.metrics import (
    METRICS,
    SATISFACTION_LOADS,
    SATISFACTION_SLO_X,
    compute_metrics,
    slo_satisfaction,
)
from dse.sim import DEFAULT_QUEUE_CAP, ModelTables, get_policy, simulate
from workloads import get_model


@dataclass
class Evaluation:
    """``metrics``: the ``dse simulate --json`` object plus ``area_mm2``; ``requests``:
    per-request arrays ``arrival_ms, start_ms, completion_ms, exit, stream, dropped``;
    ``tables``: model name -> ``LatencyTable`` the executors used; ``warnings``: notes for
    the user (for example an SLO below the isolated latency)."""

    metrics: dict
    requests: dict
    tables: dict
    policy: str = ""
    params: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


@functools.lru_cache(maxsize=128)
def model_table(design, model_name: str):
    """Latency table of a zoo/user model on a design, cached per process (a satisfaction
    sweep asks for the same tables for every grid point).  Treat it as read-only."""
    return latency_table(design, get_model(model_name).layers)


def isolated_ms(design, models) -> dict[str, float]:
    """Batch-1 latency (ms) of every model to its last exit on the whole ``design``."""
    return {name: float(model_table(design, name).ms[:, 1].sum()) for name in models}


def evaluate(design, scenario, policy: str, params: dict | None = None, *,
             n_requests: int = 10000, seed: int = 0, warmup: float = 0.1, trace=None,
             queue_cap: int = DEFAULT_QUEUE_CAP) -> Evaluation:
    """Simulate ``scenario`` (its trace for ``seed``, or ``trace``) on ``design`` under
    ``policy`` with ``params`` and return its :class:`Evaluation`.

    SLOs given as ``slo_x`` use the isolated batch-1 latency on the whole design.  The
    ``bcedge`` policy runs its instances on ``design.sliced(instances)``.  Exit-aware
    policies predict with the scenario's exit profiles (``Scenario.exit_profiles``),
    never with a request's drawn exit.
    """
    pol = get_policy(policy)
    resolved = pol.resolve(params)
    if not (isinstance(warmup, int | float) and 0.0 <= warmup < 1.0):
        raise InputError(f"must be in [0, 1), got {warmup!r}", field="warmup")
    if trace is None:
        trace = scenario.trace(n_requests, seed)
    names = list(trace.model_names)
    iso = isolated_ms(design, names)
    slo = scenario.slo_ms(iso)
    warnings = []
    for s, stream in enumerate(scenario.streams):
        if slo[s] < iso[stream.model]:
            warnings.append(
                f"stream '{stream.name}': SLO {slo[s]:.3g} ms is below the isolated batch-1 "
                f"latency of {stream.model} ({iso[stream.model]:.3g} ms): no request that "
                f"reaches the last exit can meet it")
    n_inst = pol.instances(resolved)
    run_design = design if n_inst == 1 else design.sliced(n_inst)
    tables = {name: model_table(run_design, name) for name in names}
    profiles = scenario.exit_profiles()

    def tables_for(n: int) -> list[ModelTables]:
        """The models' simulator tables on ``n`` slices of the PE array."""
        d = design if n == 1 else design.sliced(n)
        return [ModelTables(t.ms, t.energy_uj, t.utilisation, get_model(name).exit_layers,
                            profiles[name])
                for name in names for t in (model_table(d, name),)]

    if pol.runner is not None:  # a learned policy: decides in Python, picks its slices
        res = pol.runner.run(trace, slo, tables_for, resolved, queue_cap=queue_cap)
    else:
        res = simulate(trace.arrival_ms, trace.stream, trace.model, trace.exit, slo,
                       tables_for(n_inst), pol.name, resolved, queue_cap=queue_cap)
    metrics = compute_metrics(res, slo, trace.stream_names, trace.accuracy, warmup=warmup,
                              queue_cap=queue_cap)
    metrics["sim_seconds"] = res.sim_seconds
    metrics["requests_per_second"] = (len(trace) / res.sim_seconds
                                      if res.sim_seconds > 0 else math.inf)
    for m in METRICS.values():
        if m.source == "design":
            metrics[m.name] = float(m.compute(design))
    requests = {"arrival_ms": res.arrival_ms, "start_ms": res.start_ms,
                "completion_ms": res.completion_ms, "exit": np.asarray(trace.exit),
                "stream": np.asarray(trace.stream), "dropped": res.dropped}
    return Evaluation(metrics, requests, tables, pol.name, resolved, warnings)


def with_slo_ms(scenario, slo_ms):
    """The scenario with stream ``s``'s SLO set to ``slo_ms[s]`` (absolute ms)."""
    streams = tuple(dataclasses.replace(s, slo_ms=float(ms), slo_x=None)
                    for s, ms in zip(scenario.streams, slo_ms, strict=True))
    return dataclasses.replace(scenario, streams=streams)


#: The design whose isolated batch-1 latencies turn the sweep's SLO multiples into
#: absolute milliseconds when no reference is given: one reference for every design of a
#: study, so that a faster design does not face tighter SLOs.
SLO_REFERENCE_DESIGN = Path(cost_models.__file__).resolve().parent / "designs" / "edge_small.toml"


@functools.lru_cache(maxsize=1)
def _reference_design():
    return load_npu(SLO_REFERENCE_DESIGN)


def satisfaction_sweep(design, scenario, policy: str, params: dict | None = None, *,
                       loads=SATISFACTION_LOADS, slo_x=SATISFACTION_SLO_X,
                       n_requests: int = 10000, seed: int = 0, warmup: float = 0.1,
                       slo_ref_ms: dict[str, float] | None = None) -> dict:
    """Paper-style SLO satisfaction (``dse.metrics.slo_satisfaction``) over the grid of
    ``loads`` (factors on every stream's rate) x ``slo_x`` (SLO targets: stream ``s``'s
    SLO is ``x * slo_ref_ms[model of s]``, absolute ms shared by every design; default
    reference: the isolated batch-1 latency on :data:`SLO_REFERENCE_DESIGN`).  One
    simulation per grid point, common random numbers across the points of one load.
    Returns the shares plus the per-point grid (``load, slo_x, slo_ms`` per stream,
    ``slo_attainment, avg_met, tail_met``)."""
    ref = slo_ref_ms if slo_ref_ms is not None else isolated_ms(_reference_design(),
                                                                 scenario.models)
    stream_ref = np.array([float(ref[s.model]) for s in scenario.streams])
    mean, p95, slo, unstable, grid = [], [], [], [], []
    for load in loads:
        scaled = scenario.scaled(load)
        trace = scaled.trace(n_requests, seed)
        for x in slo_x:
            sc = with_slo_ms(scaled, x * stream_ref)
            ev = evaluate(design, sc, policy, params, seed=seed, warmup=warmup, trace=trace)
            streams = [ev.metrics["streams"][s.name] for s in sc.streams]
            mean.append([m["mean_latency_ms"] for m in streams])
            p95.append([m["p95_latency_ms"] for m in streams])
            slo.append(list(x * stream_ref))
            unstable.append(ev.metrics["overall"]["unstable"])
            point = slo_satisfaction(mean[-1], p95[-1], slo[-1], [unstable[-1]])
            grid.append({"load": load, "slo_x": x, "slo_ms": [float(v) for v in slo[-1]],
                         "slo_attainment": ev.metrics["overall"]["slo_attainment"],
                         "avg_met": point["average"] == 1.0,
                         "tail_met": point["tail"] == 1.0})
    out = slo_satisfaction(np.array(mean), np.array(p95), np.array(slo), np.array(unstable))
    out["grid"] = grid
    return out


# --------------------------------------------------------------------------- studies
def trial_scenario(scenario, exit_thresholds: dict | None):
    """``scenario`` with a trial's searched exit thresholds (user attr ``exit_thresholds``)
    applied; the scenario itself when the study searches none."""
    for stream, thresholds in (exit_thresholds or {}).items():
        scenario = scenario.replace_stream(stream, exit_thresholds=list(thresholds))
    return scenario


def _mean_tree(trees: list):
    """Average numeric leaves of equally shaped nested dicts (bools: any)."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: _mean_tree([t[k] for t in trees]) for k in first}
    if isinstance(first, bool):
        return any(trees)
    if isinstance(first, int | float):
        return float(np.mean([float(t) for t in trees]))
    return first


def trial_metrics(design, scenario, policy, params, *, n_requests, seed, replications=1,
                  warmup=0.1, needed=(), traces=None, loads=SATISFACTION_LOADS,
                  slo_x=SATISFACTION_SLO_X) -> dict:
    """Metrics stored on a trial: :func:`evaluate` metrics averaged over replications.

    Replication ``r`` simulates ``scenario.trace(n_requests, seed + r)`` (or
    ``traces[r]``).  ``overall`` gains every sweep metric (``avg_slo_satisfaction``,
    ``tail_slo_satisfaction``) when ``needed`` asks for one (paper-style sweep over
    ``loads`` x ``slo_x``, see :func:`satisfaction_sweep`; seed = the study seed).
    """
    runs = []
    for r in range(replications):
        trace = traces[r] if traces is not None else None
        ev = evaluate(design, scenario, policy, params, n_requests=n_requests, seed=seed + r,
                      warmup=warmup, trace=trace)
        runs.append(ev.metrics)
    metrics = runs[0] if len(runs) == 1 else _mean_tree(runs)
    sweep = [m for m in METRICS.values() if m.source == "sweep"]
    if {m.name for m in sweep} & set(needed):
        sat = satisfaction_sweep(design, scenario, policy, params, loads=loads, slo_x=slo_x,
                                 n_requests=n_requests, seed=seed, warmup=warmup)
        metrics = dict(metrics)
        metrics["overall"] = {**metrics["overall"],
                              **{m.name: float(m.compute(sat)) for m in sweep}}
    return metrics


def jsonable(obj):
    """Plain-JSON copy of a metrics tree (numpy scalars/arrays to Python numbers/lists)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj
