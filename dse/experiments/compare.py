"""Policy x load comparison on one design (what ``dse compare`` runs).

Every policy, with its default parameters unless given, simulates the same trace at
each load level (common random numbers: one trace per workload and load, shared by all
policies).  For one model, load 1.0 is the design's capacity (:func:`capacity_rps`) unless
a rate is given, and the workloads are Poisson and spiking arrivals at that rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dse.evaluation import evaluate, model_table
from dse.sim import POLICIES, get_policy

#: Arrival processes a single-model comparison runs (``--arrival X`` replaces the second).
ARRIVALS = ("poisson", "spikes")
#: Load factors (multiples of the load-1.0 rate).
LOADS = (0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.2)
#: SLO of a single-model comparison without one: this multiple of the isolated latency.
DEFAULT_SLO_X = 5.0
#: Overall metrics kept per run.
KEYS = ("slo_attainment", "mean_latency_ms", "p95_latency_ms", "mean_batch", "dropped",
        "unstable")


def capacity_rps(design, model_name: str) -> float:
    """Requests/s the design sustains on ``model_name`` at its best batch size (every
    sample to the last exit): ``max over b of b / batch time``, the load-1.0 point."""
    t = model_table(design, model_name)
    batch_ms = t.ms[:, 1:].sum(axis=0)
    return float(max((b + 1) / ms for b, ms in enumerate(batch_ms))) * 1e3


def single_stream(model: str, *, rate_rps: float, slo_ms: float | None = None,
                  slo_x: float | None = None, arrival: str = "poisson",
                  exit_profile: list[float] | None = None, source: str = "command line"):
    """A one-stream scenario named after ``model`` (SLO as ``slo_ms`` or ``slo_x``)."""
    from workloads import Scenario

    stream = {"name": model, "model": model, "arrival": arrival, "rate_rps": rate_rps}
    if slo_ms is not None:
        stream["slo_ms"] = slo_ms
    else:
        stream["slo_x"] = slo_x
    if exit_profile is not None:
        stream["exit_profile"] = list(exit_profile)
    return Scenario.from_dict({"name": model, "streams": [stream]}, source=source)


def model_workloads(design, model: str, *, rate_rps: float | None = None,
                    slo_ms: float | None = None, arrival: str = "poisson",
                    exit_profile: list[float] | None = None) -> tuple[dict, float]:
    """``({arrival name: scenario}, load-1.0 rate in requests/s)`` of a single-model
    comparison: Poisson and spikes (or ``arrival``) at ``rate_rps`` (default: the
    capacity), SLO ``slo_ms`` (default: :data:`DEFAULT_SLO_X` x the isolated latency)."""
    base = rate_rps if rate_rps is not None else capacity_rps(design, model)
    slo = {"slo_ms": slo_ms} if slo_ms is not None else {"slo_x": DEFAULT_SLO_X}
    arrivals = ARRIVALS if arrival == "poisson" else ("poisson", arrival)
    return {a: single_stream(model, rate_rps=base, arrival=a, exit_profile=exit_profile,
                             **slo) for a in arrivals}, base


@dataclass
class Comparison:
    """Results of :func:`compare`: one record per (workload, load, policy) in ``runs``
    (keys ``arrival, load, policy`` and :data:`KEYS`), plus the SLO warnings met."""

    workloads: list[str]
    loads: list[float]
    policies: list[str]
    runs: list[dict]
    base_rate_rps: float | None = None
    warnings: list[str] = field(default_factory=list)

    def run(self, workload: str, load: float, policy: str) -> dict:
        return next(r for r in self.runs if r["arrival"] == workload and r["load"] == load
                    and r["policy"] == policy)


def compare(design, workloads: dict, *, policies=None, loads=LOADS, n_requests: int = 10000,
            seed: int = 0, params: dict | None = None, base_rate_rps: float | None = None,
            on_run: Callable[[], None] | None = None) -> Comparison:
    """Simulate every policy of ``policies`` (default: all registered) on ``design`` for
    each workload (name -> scenario) scaled by each load factor; ``params`` maps a
    policy to its parameters (default: its defaults).  ``on_run()`` is called after each
    simulation (progress)."""
    names = list(POLICIES) if policies is None else [get_policy(n).name for n in policies]
    params = params or {}
    out = Comparison(list(workloads), list(loads), names, [], base_rate_rps)
    for wname, scenario in workloads.items():
        for load in loads:
            sc = scenario.scaled(load)
            trace = sc.trace(n_requests, seed)  # the same trace for every policy
            for name in names:
                ev = evaluate(design, sc, name, params.get(name), seed=seed, trace=trace)
                out.warnings += [w for w in ev.warnings if w not in out.warnings]
                o = ev.metrics["overall"]
                out.runs.append({"arrival": wname, "load": load, "policy": name,
                                 **{k: o[k] for k in KEYS}})
                if on_run is not None:
                    on_run()
    return out
