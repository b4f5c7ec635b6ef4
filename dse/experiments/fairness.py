"""Capacity-fair comparisons: what every policy and hardware variant is given equally.

* **Samples in flight.**  Every batching policy may process the same ``batch`` samples at
  once on the array (its ``max_batch``; ``bcedge`` runs ``instances`` slices with
  ``batch / instances`` each).  ``fcfs`` does not batch: 1.  Paused batches (``prema``)
  hold samples but do not occupy the array, so they do not count.
* **Load 1.0** is the best sustainable throughput of the hardware under comparison for
  the model *and its exit profile*: :func:`capacity_rps`, ``max over b <= batch of
  b / E[T(b)]``, with ``E[T(b)]`` the expected time of a batch of ``b`` fresh samples
  run to completion while members leave at their exits (``dse.sim.expected_batch_ms``).
  It is the throughput of back-to-back batches without refill; refilling freed slots
  (``fluid``) can go beyond it.  For a scenario of several models the rate shares fix
  the mix, and load 1.0 is ``1 / sum_m share_m / capacity_m``.  Across hardware
  variants, load 1.0 is the largest of their capacities, so every variant sees the same
  arrivals.
* **SLOs** are absolute milliseconds shared by every variant: multiples of each model's
  isolated batch-1 latency on one reference design.
* **Spikes** hold the requests the reference design serves at load 1.0 in
  :data:`SPIKE_X` isolated latencies, arriving within one isolated latency.
"""

from __future__ import annotations

import numpy as np

from dse.common import InputError
from dse.evaluation import isolated_ms, model_table
from dse.sim import expected_batch_ms, get_policy
from workloads import get_model

#: Spike size: the requests served at capacity in this many isolated latencies.
SPIKE_X = 4.0
#: Share of the requests that arrive in spikes.
SPIKE_SHARE = 0.5


def capacity_rps(design, model_name: str, *, exit_profile=None, batch: int | None = None
                 ) -> float:
    """Requests/s ``design`` sustains on ``model_name`` with its exit profile (default:
    the model's): ``max over b <= batch of b / E[T(b)]`` (see the module docstring);
    ``batch`` defaults to the design's ``max_batch``."""
    model = get_model(model_name)
    t = model_table(design, model_name)
    profile = model.exit_profile if exit_profile is None else exit_profile
    e = expected_batch_ms(t.ms, model.exit_layers, profile)
    top = min(design.max_batch if batch is None else int(batch), e.shape[0] - 1)
    b = np.arange(1, top + 1)
    return float(np.max(b / e[1:top + 1])) * 1e3


def scenario_capacity_rps(design, scenario, *, batch: int | None = None) -> float:
    """Total requests/s at load 1.0 for the scenario's mix of models (rate shares) and
    exit profiles (``Scenario.exit_profiles``) on ``design``."""
    rates = scenario.rates_rps()
    profiles = scenario.exit_profiles()
    share: dict[str, float] = {}
    for s, r in zip(scenario.streams, rates, strict=True):
        share[s.model] = share.get(s.model, 0.0) + r / rates.sum()
    return 1.0 / sum(w / capacity_rps(design, m, exit_profile=profiles[m], batch=batch)
                     for m, w in share.items())


def reference_capacity_rps(designs, scenario, *, batch: int | None = None) -> float:
    """Load 1.0 across hardware variants: the largest of their capacities."""
    return max(scenario_capacity_rps(d, scenario, batch=batch) for d in designs)


def at_load_one(scenario, rate_rps: float):
    """The scenario with its rates scaled so that they sum to ``rate_rps`` (load 1.0)."""
    return scenario.scaled(rate_rps / float(scenario.rates_rps().sum()))


def slo_reference_ms(design, models) -> dict[str, float]:
    """Per model, the isolated batch-1 latency (ms) on the reference design: SLO targets
    are multiples of it, the same absolute milliseconds for every variant."""
    return isolated_ms(design, models)


def spike_params(capacity_rps_: float, iso_ms: float) -> dict:
    """Arrival parameters of the ``spikes`` process scaled to the capacity: a spike holds
    ``SPIKE_X x iso_ms`` worth of requests at ``capacity_rps_``, spread over ``iso_ms``."""
    size = max(2, int(round(SPIKE_X * iso_ms * capacity_rps_ / 1e3)))
    return {"spike_share": SPIKE_SHARE, "spike_size": size, "spike_width_ms": float(iso_ms)}


def fair_params(policy: str, params: dict | None, batch: int) -> dict:
    """``params`` (validated, defaults filled) with the comparison's samples in flight:
    ``max_batch = batch`` (``batch / instances`` per instance for a policy with
    instances; they must divide it).  Policies without ``max_batch`` are left as they are."""
    pol = get_policy(policy)
    resolved = pol.resolve(params)
    if "max_batch" not in pol.params:
        return resolved
    n = pol.instances(resolved)
    if batch % n:
        raise InputError(f"{n} instances do not divide the {batch} samples in flight",
                         field=f"{pol.name}.{pol.instances_param}",
                         allowed=[k for k in range(1, batch + 1) if batch % k == 0])
    resolved["max_batch"] = batch // n
    return pol.resolve(resolved)


def samples_in_flight(policy: str, resolved: dict, design_max_batch: int) -> int:
    """Samples the array may process at once under ``policy`` with ``resolved``
    parameters: instances x per-instance batch (capped at the design's ``max_batch``)."""
    pol = get_policy(policy)
    per = int(resolved["max_batch"]) if "max_batch" in pol.params else 1
    return pol.instances(resolved) * min(per, int(design_max_batch))


def held_equal(*, batch: int, load_rps: dict, slo_ms: dict, reference: str,
               spikes: dict | None = None) -> list[str]:
    """One line per quantity a comparison holds equal, for its output."""
    lines = [f"samples in flight: {batch} for every batching policy (bcedge: {batch} / "
             f"instances per instance; fcfs: 1, it does not batch)",
             "load 1.0 = " + ", ".join(f"{k}: {v:.1f} req/s" for k, v in load_rps.items())
             + f" (best sustainable throughput with the exit profile on {reference})",
             "SLOs (absolute, every variant): " + ", ".join(
                 f"{k}: {v:.3g} ms" for k, v in slo_ms.items()),
             "traces: the same arrivals and exits for every policy and variant "
             "(common random numbers)"]
    if spikes:
        lines.append("spikes: " + ", ".join(f"{k}: {v['spike_size']} requests within "
                                            f"{v['spike_width_ms']:.3g} ms"
                                            for k, v in spikes.items())
                     + f" ({SPIKE_X:g} isolated latencies of work at load 1.0)")
    return lines
