"""Provenance of the zoo's numbers and the threshold-sweep fits (data in ``data/zoo.toml``).

Each number of a zoo entry is ``published`` (the source's own figure), ``mapped`` (a
published figure of another model or data set, carried over as ``mapping`` says),
``fitted`` (fitted to published data) or ``assumed`` (ours, with a ``reason``).
"""

from __future__ import annotations

import numpy as np

from dse.common import InputError
from workloads.exits import curve_accuracy, default_thresholds, fit_difficulty, midpoints

KINDS = {"published": "cite", "mapped": "cite", "fitted": "cite", "assumed": "reason"}
MARKS = {"published": "p", "mapped": "m", "fitted": "f", "assumed": "a"}
RECORD_KEYS = ("kind", "items", "cite", "mapping", "reason", "note")
_NOT_NUMBERS = ("source", "provenance")


def numeric_fields(entry: dict) -> dict[str, int | None]:
    """Fields of a zoo entry that hold numbers -> element count (``None`` for a scalar or
    a table): every key but ``source`` and ``provenance``."""
    return {k: len(v) if isinstance(v, list) else None
            for k, v in entry.items() if k not in _NOT_NUMBERS}


def expand(name: str, entry: dict, n_exits: int) -> dict[str, list[dict]]:
    """Per-element provenance records of zoo entry ``name``: field -> one record per
    element (one for a scalar), covering ``exits`` and every numeric field exactly once.
    Raises :class:`InputError` naming the field when a number has no record or a record
    lacks its citation or reason."""
    where = f"workloads/data/zoo.toml [{name}]"
    fields = {"exits": n_exits, **numeric_fields(entry)}
    raw = entry.get("provenance", {})
    for key in raw:
        if key not in fields:
            raise InputError("provenance for a field that holds no number", source=where,
                             field=f"provenance.{key}", allowed=list(fields))
    out = {}
    for key, count in fields.items():
        slots: list[dict | None] = [None] * (count or 1)
        for i, rec in enumerate(raw.get(key, [])):
            at = f"provenance.{key}[{i}]"
            if set(rec) - set(RECORD_KEYS):
                raise InputError(f"unknown keys {sorted(set(rec) - set(RECORD_KEYS))}",
                                 source=where, field=at, allowed=RECORD_KEYS)
            kind = rec.get("kind")
            if kind not in KINDS:
                raise InputError(f"unknown kind {kind!r}", source=where, field=f"{at}.kind",
                                 allowed=list(KINDS))
            need = ("cite", "mapping") if kind == "mapped" else (KINDS[kind],)
            for text in need:
                if not isinstance(rec.get(text), str) or not rec[text].strip():
                    raise InputError(f"a {kind} number needs a non-empty '{text}'",
                                     source=where, field=f"{at}.{text}")
            items = rec.get("items", list(range(len(slots))))
            for j in items:
                if not isinstance(j, int) or not 0 <= j < len(slots) or slots[j] is not None:
                    raise InputError(f"item {j!r} is out of range or covered twice",
                                     source=where, field=f"{at}.items")
                slots[j] = {k: v for k, v in rec.items() if k != "items"}
        missing = [j for j, s in enumerate(slots) if s is None]
        if missing:
            raise InputError(f"no provenance (citation or 'assumed' with a reason) for "
                             f"element(s) {missing}", source=where, field=f"provenance.{key}")
        out[key] = slots
    return out


def sweep_points(sweep: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds float[N, E-1], exit shares float[N, E], accuracy float[N]) of a
    ``threshold_sweep`` table, percentages turned into fractions."""
    return (np.asarray(sweep["entropy_thresholds"], dtype=np.float64),
            np.asarray(sweep["exit_percent"], dtype=np.float64) / 100.0,
            np.asarray(sweep["accuracy_percent"], dtype=np.float64) / 100.0)


def fit_sweep(sweep: dict) -> tuple[np.ndarray, float]:
    """Fit the difficulty model to a threshold sweep: ``(exit_accuracy[E], slope)``.

    Settings with the same outcome (exit shares and accuracy), such as every threshold
    above the largest entropy seen, are one operating point, so each distinct point
    weighs once."""
    _, shares, acc = sweep_points(sweep)
    _, keep = np.unique(np.column_stack([shares, acc]), axis=0, return_index=True)
    exit_accuracy, slope, _ = fit_difficulty(shares[np.sort(keep)], acc[np.sort(keep)])
    return exit_accuracy, slope


def sweep_report(entry: dict) -> dict:
    """The stored fit of a zoo entry against its published sweep: every point with the
    model's accuracy and the residual (percentage points), RMS and largest residual over
    the distinct points, and the ``exit_thresholds`` equivalent to the published default
    profile."""
    thresholds, shares, acc = sweep_points(entry["threshold_sweep"])
    exit_acc, slope = entry["exit_accuracy"], float(entry["confidence_slope"])
    model = curve_accuracy(shares, midpoints(exit_acc, slope), slope)
    resid = (model - acc) * 100.0
    _, keep = np.unique(np.column_stack([shares, acc]), axis=0, return_index=True)
    return {
        "points": [{"entropy_thresholds": [float(t) for t in th],
                    "exit_shares": [round(float(s), 4) for s in sh],
                    "accuracy": round(float(a), 4), "model_accuracy": round(float(m), 4),
                    "residual_pp": round(float(r), 3)}
                   for th, sh, a, m, r in zip(thresholds, shares, acc, model, resid, strict=True)],
        "distinct_points": int(keep.size),
        "rms_pp": round(float(np.sqrt(np.mean(resid[keep] ** 2))), 3),
        "max_abs_pp": round(float(np.max(np.abs(resid[keep]))), 3),
        "default_profile_thresholds": [round(t, 4) for t in default_thresholds(
            entry["exit_profile"], exit_acc, slope)],
        "default_profile_accuracy": round(float(curve_accuracy(
            entry["exit_profile"], midpoints(exit_acc, slope), slope)[0]), 4),
    }
