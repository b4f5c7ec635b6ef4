"""Pareto fronts and normalised hypervolume of a study's complete trials.

Hypervolume convention (the same as the dashboard's, ``docs/report.md``; used by
``dse run``'s progress bar, ``dse status`` and the search benchmark): every objective is
turned into minimisation and scaled to [0, 1] by its range over the complete feasible
trials (0 = best, 1 = worst; the benchmark passes the exhaustive grid's range instead);
the reference point is 1.1 in every objective (10% beyond the worst); the reported number
is the dominated volume divided by the volume of the reference box (1.1^m), so it lies in
[0, 1].  Infeasible trials (any constraint value > 0) never enter a front.  Because the
range moves as trials arrive, compare hypervolumes within one study, not across studies.
"""

from __future__ import annotations

import numpy as np
import optuna
from optuna.trial import TrialState

from dse.search._optuna_compat import hypervolume as _dominated_volume

REF = 1.1


def minimised(values: np.ndarray, directions) -> np.ndarray:
    """Objective values (n, m) turned into minimisation (maximised ones negated)."""
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(values, dtype=np.float64).reshape(-1, len(sign)) * sign


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``points`` (minimisation); duplicates all stay.

    Equal rows share their verdict, so the O(k^2) pass runs over the k distinct rows
    (a long study re-samples the same designs many times)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) > 1 and points.ndim == 2:
        uniq, inverse = np.unique(points, axis=0, return_inverse=True)
        if len(uniq) < len(points):
            return _pareto_mask(uniq)[inverse.reshape(-1)]
    return _pareto_mask(points)


def _pareto_mask(points: np.ndarray) -> np.ndarray:
    n = len(points)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dom = np.all(points <= points[i], axis=1) & np.any(points < points[i], axis=1)
        if dom.any():
            mask[i] = False
    return mask


def feasible(trial: optuna.trial.FrozenTrial) -> bool:
    return all(v <= 0.0 for v in trial.constraints.values())


def bounds_for(metrics, directions, points_min: np.ndarray):
    """(lower, upper) per objective in minimisation space: the observed range (a zero
    range is widened to ``max(|value|, 1)`` so that normalisation stays finite)."""
    m = len(directions)
    lower = np.zeros(m)
    upper = np.ones(m)
    for i in range(m):
        if len(points_min):
            col = points_min[:, i]
            col = col[np.isfinite(col)]
            if len(col):
                lower[i], upper[i] = col.min(), col.max()
        if not upper[i] > lower[i]:
            upper[i] = lower[i] + max(abs(lower[i]), 1.0)
    return lower, upper


def hypervolume(points_min: np.ndarray, lower, upper) -> float:
    """Normalised hypervolume of minimisation points (see module doc), in [0, 1)."""
    pts = np.asarray(points_min, dtype=np.float64)
    if pts.size == 0:
        return 0.0
    m = pts.shape[1]
    norm = (pts - lower) / (np.asarray(upper) - np.asarray(lower))
    norm = norm[np.all(np.isfinite(norm), axis=1) & np.all(norm < REF, axis=1)]
    if len(norm) == 0:
        return 0.0
    norm = norm[pareto_mask(norm)]
    ref = np.full(m, REF)
    if m == 1:
        return float((REF - norm.min()) / REF)
    return float(_dominated_volume(norm, ref) / REF ** m)


def complete_feasible(study: optuna.Study):
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if feasible(t)]
    return trials


def design_key(trial) -> tuple:
    """What makes two trials the same design: their Optuna parameters (a re-sampled
    design repeats them; every searched dimension is a parameter)."""
    return tuple(sorted((k, repr(v)) for k, v in trial.params.items()))


def pareto_designs(trials, directions) -> list[int]:
    """Positions in ``trials`` of the *Pareto designs*: feasible trials with finite
    values that no other feasible trial dominates, each distinct design once (its lowest
    trial number).  The one definition ``dse run``, ``dse status``, the dashboard and
    ``dse export`` use."""
    ok = [i for i, t in enumerate(trials) if t.values is not None and feasible(t)
          and np.all(np.isfinite(t.values))]
    if not ok:
        return []
    pts = minimised(np.array([trials[i].values for i in ok]), directions)
    mask = pareto_mask(pts)
    first: dict[tuple, int] = {}
    for i, keep in zip(ok, mask, strict=True):
        if keep:
            key = design_key(trials[i])
            if key not in first or trials[i].number < trials[first[key]].number:
                first[key] = i
    return sorted(first.values())


def front_summary(study: optuna.Study, metrics, directions):
    """(Pareto designs as their first trials, hypervolume) of a study's complete
    feasible trials."""
    trials = complete_feasible(study)
    if not trials:
        return [], 0.0
    pts = minimised(np.array([t.values for t in trials]), directions)
    lower, upper = bounds_for(metrics, directions, pts)
    front = [trials[i] for i in pareto_designs(trials, directions)]
    return front, hypervolume(pts, lower, upper)
