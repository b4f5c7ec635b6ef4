"""Rules that pick one design from a study: a trial number, knee, max-slo, min-area, budget.

All rules consider only complete, feasible trials (and, with ``where``, only those whose
stored metrics meet every condition: ``--pick min-area --where 'slo_attainment>=0.95'``
is the smallest design that keeps 95% SLO attainment).  "SLO" is the study's primary quality
objective (its first objective that is not about area); "area" is the area objective, or
the trial's ``area_mm2.total`` user attr when area is not an objective.

Knee (see docs/report.md): take the 2-D front of feasible trials that are non-dominated
in (SLO, area); normalise both to [0, 1] over that front, oriented so that 0 is best;
draw the line between its two extremes (smallest area, best SLO); the knee is the front
point farthest from that line on the side of the ideal point (0, 0).  With fewer than
three points, or no point strictly on the ideal side, the knee is the point closest to
the ideal point.  Ties go to the lower trial number.
"""

from __future__ import annotations

import numpy as np

from dse.common import InputError
from dse.report._study import StudyData, trial_area
from dse.search import pareto_mask

PICK_RULES = ("knee", "max-slo", "min-area")


def _slo_min(data: StudyData) -> np.ndarray:
    """Primary quality objective as a quantity to minimise."""
    i = data.slo_index
    v = data.values[:, i]
    return -v if data.directions[i] == "maximize" else v.copy()


def where_mask(data: StudyData, where=()) -> np.ndarray:
    """Rows whose stored metrics meet every condition of ``where``."""
    from dse.search import stored_metrics

    return np.array([all(c.holds(stored_metrics(t)) for c in where) for t in data.trials],
                    dtype=bool).reshape(len(data.trials))


def _feasible_or_fail(data: StudyData, what: str, where=()) -> np.ndarray:
    idx = np.flatnonzero(data.feasible & where_mask(data, where))
    if len(idx) == 0:
        n = len(data.trials)
        if not data.feasible.any() or not where:
            raise InputError(f"no feasible design to pick ({n} complete trial(s), none meets "
                             "the study's constraints)", source=f"study '{data.name}'",
                             field=what)
        from dse.search import stored_metrics

        c = where[0]
        vals = [(c.value_of(stored_metrics(data.trials[i])), data.trials[i].number)
                for i in np.flatnonzero(data.feasible)]
        vals = [v for v in vals if np.isfinite(v[0])]
        best = ""
        if vals:
            v, num = (max if c.op in (">=", ">") else min)(vals)
            best = f"; the best feasible {c.metric} is {v:.4g} (trial {num})"
        raise InputError(f"no feasible design with {' and '.join(map(str, where))}{best}",
                         source=f"study '{data.name}'", field="where")
    return idx


def front_2d(data: StudyData, where=()) -> np.ndarray:
    """Row indices of feasible trials (meeting ``where``) non-dominated in (SLO, area),
    sorted by area."""
    idx = _feasible_or_fail(data, "pick", where)
    area = trial_area(data)
    pts = np.column_stack([_slo_min(data), area])[idx]
    ok = np.all(np.isfinite(pts), axis=1)
    idx, pts = idx[ok], pts[ok]
    if len(idx) == 0:
        raise InputError("no feasible trial has both an SLO objective and an area",
                         source=f"study '{data.name}'", field="pick")
    front = idx[pareto_mask(pts)]
    return front[np.lexsort((data.numbers[front], area[front]))]


def _dominated(data: StudyData, rows: np.ndarray) -> np.ndarray:
    """1 for the rows that another of ``rows`` dominates in all objectives (a third
    objective breaks SLO-area ties: a Pareto design wins over a dominated one), else 0."""
    from dse.search import pareto_designs

    keep = set(pareto_designs([data.trials[i] for i in rows], data.directions))
    return np.array([0 if k in keep else 1 for k in range(len(rows))], dtype=np.int64)


def knee_index(slo_min: np.ndarray, area: np.ndarray, numbers: np.ndarray) -> int:
    """Position of the knee in a 2-D front given as minimised SLO and area arrays."""
    n = len(area)
    pts = np.column_stack([slo_min, area]).astype(np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    z = (pts - lo) / span
    order = np.lexsort((numbers,))  # tie-break by trial number
    if n >= 3:
        a = z[np.argmin(z[:, 1] + 1e-12 * z[:, 0])]  # smallest-area extreme
        b = z[np.argmin(z[:, 0] + 1e-12 * z[:, 1])]  # best-SLO extreme
        d = b - a
        length = float(np.hypot(d[0], d[1]))
        if length > 0:
            # signed distance, positive on the side of the ideal point (0, 0)
            cross = (d[0] * (z[:, 1] - a[1]) - d[1] * (z[:, 0] - a[0])) / length
            side = d[0] * (0 - a[1]) - d[1] * (0 - a[0])
            dist = cross * np.sign(side) if side != 0 else np.abs(cross)
            if np.max(dist) > 1e-12:
                best = np.max(dist)
                cands = [i for i in order if dist[i] >= best - 1e-12]
                return int(cands[0])
    closeness = np.hypot(z[:, 0], z[:, 1])
    best = np.min(closeness)
    return int([i for i in order if closeness[i] <= best + 1e-12][0])


def pick(data: StudyData, *, trial: int | None = None, rule: str | None = None,
         area_budget: float | None = None, where=()):
    """The chosen complete trial (an ``optuna.trial.FrozenTrial``).  ``where``
    (:class:`dse.metrics.Condition`) restricts the rules to trials whose stored metrics
    meet every condition; ``trial`` ignores it."""
    if trial is not None:
        t = data.trial(trial)
        if t is None:
            numbers = [int(n) for n in data.numbers]
            shown = ", ".join(str(n) for n in numbers[:20]) + (" ..." if len(numbers) > 20 else "")
            raise InputError(f"no complete trial number {trial}", source=f"study '{data.name}'",
                             field="trial", allowed=shown or "(no complete trials)")
        return t
    area = trial_area(data)
    numbers = data.numbers
    if area_budget is not None:
        if not area_budget > 0:
            raise InputError(f"area budget must be > 0 mm2, got {area_budget}",
                             field="area_budget")
        idx = _feasible_or_fail(data, "area budget", where)
        within = idx[area[idx] <= area_budget]
        if len(within) == 0:
            smallest = np.nanmin(area[idx])
            raise InputError(f"no feasible design within {area_budget:g} mm2 (the smallest "
                             f"feasible design is {smallest:.4g} mm2)",
                             source=f"study '{data.name}'", field="area budget")
        slo = _slo_min(data)
        dom = _dominated(data, within)
        j = within[np.lexsort((numbers[within], dom, area[within], slo[within]))][0]
        return data.trials[int(j)]
    if rule not in PICK_RULES:
        from dse.common import did_you_mean

        raise InputError(f"unknown pick rule '{rule}'{did_you_mean(str(rule), PICK_RULES)}",
                         field="rule", allowed=PICK_RULES)
    front = front_2d(data, where)
    slo = _slo_min(data)
    if rule == "max-slo":
        j = front[np.lexsort((numbers[front], _dominated(data, front), area[front],
                              slo[front]))][0]
    elif rule == "min-area":
        j = front[np.lexsort((numbers[front], _dominated(data, front), slo[front],
                              area[front]))][0]
    else:
        j = front[knee_index(slo[front], area[front], numbers[front])]
    return data.trials[int(j)]
