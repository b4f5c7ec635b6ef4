"""``dse status``: trial counts by state, the Pareto front as a table, hypervolume."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd

from dse.search._front import bounds_for, complete_feasible, hypervolume, minimised, pareto_mask
from dse.search._runner import counts


def pareto_table(spec, study: optuna.Study) -> pd.DataFrame:
    """One row per Pareto-optimal feasible design (its first trial), sorted by the first
    objective (best first): trial number, objective values, searched parameters."""
    trials = complete_feasible(study)
    names = spec.metric_names
    cols = ["trial", *names, *spec.space.varying()]
    if not trials:
        return pd.DataFrame(columns=cols)
    pts = minimised(np.array([t.values for t in trials]), spec.directions)
    mask = pareto_mask(pts)
    rows = []
    seen = set()
    for t, keep in zip(trials, mask, strict=True):
        key = tuple(sorted(t.params.items()))
        if not keep or key in seen:  # a re-sampled design appears once (lowest trial)
            continue
        seen.add(key)
        row = {"trial": t.number}
        row.update({m: v for m, v in zip(names, t.values, strict=True)})
        for c in cols[1 + len(names):]:
            row[c] = t.params.get(c, t.user_attrs.get("policy") if c == "policy" else None)
        rows.append(row)
    df = pd.DataFrame(rows, columns=cols)
    asc = spec.directions[0] == "minimize"
    return df.sort_values([names[0], "trial"], ascending=[asc, True]).reset_index(drop=True)


def status(spec, study: optuna.Study) -> dict:
    """Machine-readable status (the ``dse status --json`` object)."""
    trials = complete_feasible(study)
    pts = minimised(np.array([t.values for t in trials]), spec.directions) if trials else \
        np.zeros((0, len(spec.objectives)))
    lower, upper = bounds_for(spec.metric_names, spec.directions, pts)
    hv = hypervolume(pts, lower, upper) if len(pts) else 0.0
    table = pareto_table(spec, study)
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in spec.directions])
    c = counts(study)
    return {
        "study": spec.name,
        "n_trials": spec.n_trials,
        "counts": {k: v for k, v in c.items()},
        "complete_feasible": len(trials),
        "pareto_size": len(table),
        "hypervolume": hv,
        "hypervolume_bounds": {m: [float(a), float(b)] for m, a, b in
                               zip(spec.metric_names, lower * sign, upper * sign, strict=True)},
        "objectives": [{"metric": m, "direction": d} for m, d in spec.objectives],
        "pareto": [{k: (None if isinstance(v, float) and np.isnan(v) else
                        (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
                   for r in table.to_dict(orient="records")],
    }
