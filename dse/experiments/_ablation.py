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
from dse.experiments._satisfaction import seed_scores, summarize
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


def ablation(design, workloads, fluid_params: dict, *, seeds, grid: dict,
             on_step=None) -> dict[str, pd.DataFrame]:
    """``{"variants", "utilisation", "satisfaction"}`` tables (see the module docstring);
    ``fluid_params`` maps a workload key to the tuned fluid parameters."""
    models = list(dict.fromkeys(s.model for w in workloads for s in w.scenario.streams))
    rows, sat_rows = [], []
    for name, batching, stacking in VARIANTS:
        d = variant(design, batching, stacking)
        area = area_breakdown(d)
        row = {"variant": name, "batching": batching,
               "stack_factors": ",".join(str(k) for k in d.stack_factors),
               "area_mm2": area["total"], **{f"{f}_mm2": area.get(f, 0.0) for f in FEATURES}}
        for m in models:
            row[f"capacity_{m}_rps"] = capacity_rps(d, m)
        rows.append(row)
        for w in workloads:
            for s in seeds:
                sc = seed_scores(d, w, "fluid", fluid_params[w.key], seed=s, **grid)
                sat_rows.append({"variant": name, "workload": w.name, "arrival": w.arrival,
                                 "hardware": name, "policy": "fluid", "seed": s, **sc})
                if on_step is not None:
                    on_step()
    util = []
    for m in models:
        sweep = utilisation_sweep(design, get_model(m).layers)
        for key, stacked in (("no_stacking", ""), ("stacking", " +stack")):
            for mode, label in (("r", "R-only"), ("p", "P-only"), ("fluid", "fluid")):
                for b, u, cu in zip(sweep["batches"], sweep["utilisation"][key][mode],
                                    sweep["compute_utilisation"][key][mode], strict=True):
                    util.append({"model": m, "variant": label + stacked, "batch": b,
                                 "utilisation": u, "compute_utilisation": cu})
    sat = pd.DataFrame(sat_rows)
    return {"variants": pd.DataFrame(rows), "utilisation": pd.DataFrame(util),
            "satisfaction": summarize(sat, ["variant", "arrival"]),
            "records": sat}
