"""Tuning protocol: no policy wins by its defaults.

Every policy's parameters (``fluid``'s thresholds included) are searched with the study
samplers (``dse.search.optimize``, TPE by default) on *tuning seeds*, starting from the
defaults, with the comparison's samples in flight fixed (``max_batch`` is the fairness
budget, not a tuned parameter; ``bcedge`` tunes how many instances share it).  Results
are reported on *held-out seeds*, disjoint from the tuning seeds, with 95% confidence
intervals over seeds.  Seeds: held-out ``seed, seed + 1, ...``; tuning
``TUNING_SEED_BASE + seed, ...``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from dse.experiments.fairness import fair_params
from dse.sim import get_policy

#: Tuning seeds start here, far from any held-out seed.
TUNING_SEED_BASE = 1_000_000
#: Trials per policy (defaults included) unless told otherwise.
TUNE_BUDGET = 20


def tuning_seeds(seed: int, n: int) -> list[int]:
    return [TUNING_SEED_BASE + seed + i for i in range(n)]


def held_out_seeds(seed: int, n: int) -> list[int]:
    return [seed + i for i in range(n)]


def tuning_dims(policy: str, batch: int, ms_high: float | None = None) -> dict:
    """The tuned dimensions of ``policy``: every declared parameter but ``max_batch``;
    an instance count only takes the values that divide ``batch`` (equal slices); a
    duration in ms (a ``*_ms`` parameter) is searched up to ``ms_high``, the largest SLO
    of the comparison (a longer wait or margin can only miss every SLO)."""
    pol = get_policy(policy)
    dims = {}
    for name, p in pol.params.items():
        if name == "max_batch":
            continue
        if name == pol.instances_param:
            dims[name] = tuple(k for k in range(int(p.low), int(p.high) + 1) if batch % k == 0)
        elif name.endswith("_ms") and ms_high is not None and ms_high < p.high:
            dims[name] = dataclasses.replace(p, high=float(ms_high))
        else:
            dims[name] = p
    return dims


def tune(policy: str, score: Callable[[dict], float], *, optimize, batch: int,
         budget: int = TUNE_BUDGET, seed: int = 0, sampler: str = "tpe",
         ms_high: float | None = None, on_trial: Callable[[], None] | None = None) -> dict:
    """Search ``policy``'s parameters maximizing ``score(params)`` (evaluated on tuning
    seeds by the caller; ``params`` are already fair, see :func:`fair_params`) over
    :func:`tuning_dims` (``ms_high``: the largest SLO, ms).

    Returns ``{"params", "score", "default_score", "trials"}``: the best fair parameters,
    their score, the defaults' score (trial 0) and the trials run.  A policy without
    tunable parameters is scored once at its defaults."""
    dims = tuning_dims(policy, batch, ms_high)
    defaults = get_policy(policy).defaults()
    if batch % get_policy(policy).instances(defaults):
        defaults[get_policy(policy).instances_param] = 1
    if not dims:
        params = fair_params(policy, None, batch)
        s = float(score(params))
        if on_trial is not None:
            on_trial()
        return {"params": params, "score": s, "default_score": s, "trials": 1}
    records = optimize(lambda p: ((score(fair_params(policy, p, batch)),), ()), dims,
                       n_trials=max(1, int(budget)), seed=seed, sampler=sampler,
                       initial=[defaults], on_trial=on_trial)
    best = max(records, key=lambda r: r["values"][0])  # first of equals: defaults win ties
    return {"params": fair_params(policy, best["params"], batch), "score": best["values"][0],
            "default_score": records[0]["values"][0], "trials": len(records)}
