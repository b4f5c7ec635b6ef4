"""``dse status``: trial counts by state, the Pareto designs as a table, hypervolume.

The table has one row per Pareto design (``dse.search.pareto_designs``) among the trials
that meet the spec's constraints and the ``where`` conditions
(:class:`dse.metrics.Condition`), best first objective first: the trial number, the
objective values, each constraint's slack (how far inside its bound, in the metric's
unit; >= 0 means met) and the searched parameters that vary along that front (without
the per-policy parameters when the policy is searched; every searched parameter with
``wide``).  The designs that miss a constraint follow, closest
first, in :func:`closest_infeasible`.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from dse.metrics import metric_value
from dse.search._front import (
    bounds_for,
    complete_feasible,
    design_key,
    feasible,
    hypervolume,
    minimised,
    pareto_designs,
)
from dse.search._runner import counts


def stored_metrics(trial) -> dict:
    """A trial's stored ``metrics`` with the design metric ``area_mm2`` filled in from
    the ``area_mm2`` breakdown when a study stored it only there."""
    ua = trial.user_attrs
    metrics = dict(ua.get("metrics") or {})
    if "area_mm2" not in metrics and "total" in (ua.get("area_mm2") or {}):
        metrics["area_mm2"] = ua["area_mm2"]["total"]
    return metrics


def slack(spec, trial) -> dict[str, float]:
    """Constraint name -> slack (``-violation``: >= 0 when met, in the metric's unit),
    recomputed from the trial's stored metrics (NaN when one is missing)."""
    metrics = stored_metrics(trial)
    out = {}
    for c in spec.constraints:
        try:
            out[c.name] = -c.violation(metric_value(c.metric, metrics))
        except (KeyError, TypeError, ValueError):
            out[c.name] = math.nan
    return out


def _where(trials, where) -> list:
    return [t for t in trials if all(c.holds(stored_metrics(t)) for c in where)]


def _param(trial, name: str):
    return trial.params.get(name, trial.user_attrs.get("policy") if name == "policy" else None)


def _rows(spec, trials, params) -> list[dict]:
    rows = []
    for t in trials:
        row = {"trial": t.number}
        row.update(dict(zip(spec.metric_names, t.values, strict=True)))
        row.update({f"slack({k})": v for k, v in slack(spec, t).items()})
        row.update({p: _param(t, p) for p in params})
        rows.append(row)
    return rows


def front_params(spec, front, wide: bool = False) -> list[str]:
    """The searched parameters shown for ``front``: those whose values differ between
    its designs, leaving out the parameters of each policy when the policy itself is
    searched (they are blank for every other policy; the ``policy`` column says which);
    every searched parameter with ``wide``."""
    names = spec.space.varying()
    if wide:
        return names
    if "policy" in names:
        names = [n for n in names if "." not in n]
    return [n for n in names if len({repr(_param(t, n)) for t in front}) > 1]


def pareto_table(spec, study: optuna.Study, *, where=(), wide: bool = False) -> pd.DataFrame:
    """One row per Pareto design among the complete trials that meet the constraints and
    ``where`` (see the module docstring), best first objective first."""
    trials = _where(complete_feasible(study), where)
    front = [trials[i] for i in pareto_designs(trials, spec.directions)]
    params = front_params(spec, front, wide)
    cols = ["trial", *spec.metric_names, *(f"slack({c.name})" for c in spec.constraints),
            *params]
    df = pd.DataFrame(_rows(spec, front, params), columns=cols)
    if not len(df):
        return df
    asc = spec.directions[0] == "minimize"
    return df.sort_values([spec.metric_names[0], "trial"],
                          ascending=[asc, True]).reset_index(drop=True)


def closest_infeasible(spec, study: optuna.Study, *, where=(), limit: int = 5,
                       params=()) -> pd.DataFrame:
    """Up to ``limit`` distinct designs that meet ``where`` but miss a constraint,
    smallest total violation first (ties: lower trial number); the columns of
    :func:`pareto_table` with the searched parameters ``params``."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    bad = [t for t in _where(done, where) if not feasible(t)]
    bad.sort(key=lambda t: (sum(max(0.0, v) for v in t.constraints.values()), t.number))
    shown, seen = [], set()
    for t in bad:
        if design_key(t) not in seen and len(shown) < limit:
            seen.add(design_key(t))
            shown.append(t)
    cols = ["trial", *spec.metric_names, *(f"slack({c.name})" for c in spec.constraints),
            *params]
    return pd.DataFrame(_rows(spec, shown, params), columns=cols)


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else
                 (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def status(spec, study: optuna.Study, *, where=(), wide: bool = True) -> dict:
    """Machine-readable status (the ``dse status --json`` object; every searched
    parameter unless ``wide=False``)."""
    trials = complete_feasible(study)
    pts = minimised(np.array([t.values for t in trials]), spec.directions) if trials else \
        np.zeros((0, len(spec.objectives)))
    lower, upper = bounds_for(spec.metric_names, spec.directions, pts)
    hv = hypervolume(pts, lower, upper) if len(pts) else 0.0
    table = pareto_table(spec, study, where=where, wide=wide)
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in spec.directions])
    return {
        "study": spec.name,
        "n_trials": spec.n_trials,
        "counts": dict(counts(study)),
        "complete_feasible": len(trials),
        "pareto_size": len(table),
        "hypervolume": hv,
        "hypervolume_bounds": {m: [float(a), float(b)] for m, a, b in
                               zip(spec.metric_names, lower * sign, upper * sign, strict=True)},
        "objectives": [{"metric": m, "direction": d} for m, d in spec.objectives],
        "constraints": [{"name": c.name, "metric": c.metric, "kind": c.kind,
                         "bound": c.bound} for c in spec.constraints],
        "where": [str(c) for c in where],
        "pareto": _records(table),
        "closest_infeasible": _records(closest_infeasible(
            spec, study, where=where, params=[c for c in table.columns
                                             if c in spec.space.varying()])),
    }
