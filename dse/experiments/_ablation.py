"""Hardware ablation of the reproduction: which feature of the fluid hardware pays.

Six variants of one PE array: R-only, P-only and fluid batching, each without stacking
(k = 1) and with the design's stack factors.  Per variant: area and the area of each
feature (``cost_models.area_breakdown``), each model's capacity with its exit profile,
MAC utilisation by batch size (``cost_models.utilisation_sweep``), and the SLO
satisfaction of the tuned ``fluid`` scheduler (its parameters tuned on the full fluid
hardware) on held-out seeds.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from cost_models import area_breakdown, utilisation_sweep
from dse.experiments._satisfaction import seed_scores
from dse.experiments.fairness import capacity_rps
from workloads import get_model

#: (name, batching, stacking) of every variant.
VARIANTS = (("R-only", "r", False), ("P-only", "p", False), ("fluid", "fluid", False),
            ("R-only +stack", "r", True), ("P-only +stack", "p", True),
            ("fluid +stack", "fluid", True))
#: Area features (``area_breakdown`` keys) that R/P/fluid batching and stacking add.
FEATURES = ("p_batching", "stacking", "fbe_lut")


def variant(design, batching: str, stacking: bool):
    return dataclasses.replace(design, batching=batching,
                               stack_factors=design.stack_factors if stacking else (1,))


def variants_table(design, models) -> pd.DataFrame:
    """Per variant: area, the area of each feature, and each model's capacity."""
    rows = []
    for name, batching, stacking in VARIANTS:
        d = variant(design, batching, stacking)
        area = area_breakdown(d)
        row = {"variant": name, "batching": batching,
               "stack_factors": ",".join(str(k) for k in d.stack_factors),
               "area_mm2": area["total"], **{f"{f}_mm2": area.get(f, 0.0) for f in FEATURES}}
        for m in models:
            row[f"capacity_{m}_rps"] = capacity_rps(d, m)
        rows.append(row)
    return pd.DataFrame(rows)


def utilisation_table(design, models) -> pd.DataFrame:
    """MAC utilisation (total and compute cycles) by batch size, model and variant."""
    rows = []
    for m in models:
        sweep = utilisation_sweep(design, get_model(m).layers)
        for key, stacked in (("no_stacking", ""), ("stacking", " +stack")):
            for mode, label in (("r", "R-only"), ("p", "P-only"), ("fluid", "fluid")):
                for b, u, cu in zip(sweep["batches"], sweep["utilisation"][key][mode],
                                    sweep["compute_utilisation"][key][mode], strict=True):
                    rows.append({"model": m, "variant": label + stacked, "batch": b,
                                 "utilisation": u, "compute_utilisation": cu})
    return pd.DataFrame(rows)


def variant_scores(design, name: str, workload, params: dict, *, seeds, grid) -> list[dict]:
    """Per-seed satisfaction of the ``fluid`` scheduler with ``params`` on variant
    ``name`` of ``design``."""
    _, batching, stacking = next(v for v in VARIANTS if v[0] == name)
    d = variant(design, batching, stacking)
    return [{"variant": name, "workload": workload.name, "arrival": workload.arrival,
             "hardware": name, "policy": "fluid", "seed": s,
             **seed_scores(d, workload, "fluid", params, seed=s, **grid)} for s in seeds]
