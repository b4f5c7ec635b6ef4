"""Write a reproduction (:func:`dse.experiments.reproduce`) into a folder: CSV tables,
``results.md`` (the markdown tables ``docs/results.md`` quotes) and plotly figures."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from dse.common import InputError
from dse.report._repro_figures import (
    codesign_figure,
    satisfaction_figure,
    sensitivity_figure,
    utilisation_figure,
)

TABLES = ("summary", "ratios", "tuning", "records", "sensitivity", "ranking", "codesign")


def md_table(frame: pd.DataFrame, columns: dict | None = None) -> str:
    """A markdown table of ``frame`` (``columns``: column -> header, in order)."""
    columns = columns or {c: c for c in frame.columns}
    lines = ["| " + " | ".join(str(h) for h in columns.values()) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.3g}")
    return str(v)


def _ci(v, lo, hi, spec=".2f") -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    ci = "" if (isinstance(lo, float) and math.isnan(lo)) else \
        f" [{format(lo, spec)}, {'inf' if math.isinf(hi) else format(hi, spec)}]"
    return f"{format(v, spec)}{ci}"


def _ratios_md(frame: pd.DataFrame, scope: list[str]) -> str:
    f = frame.copy()
    f["ratio [95% CI]"] = [_ci(r.ratio, r.ratio_lo, r.ratio_hi) for r in f.itertuples()]
    f["difference [95% CI]"] = [_ci(r.difference, r.difference_lo, r.difference_hi)
                                for r in f.itertuples()]
    cols = {c: c for c in scope}
    cols.update({"versus": "against", "metric": "satisfaction", "target": "fluid",
                 "best_rival": "best rival", "rival": "rival", "ratio [95% CI]": "ratio",
                 "difference [95% CI]": "difference"})
    return md_table(f, cols)


def _summary_md(summary: pd.DataFrame) -> str:
    """Rows: hardware x policy; columns: workload/arrival; cells: average / tail."""
    s = summary.copy()
    s["col"] = s["workload"] + " " + s["arrival"]
    s["cell"] = [f"{r.average:.2f} / {r.tail:.2f}" for r in s.itertuples()]
    wide = s.pivot_table(index=["hardware", "policy"], columns="col", values="cell",
                         aggfunc="first", sort=False).reset_index()
    return md_table(wide)


def results_markdown(rep, command: str) -> str:
    """``results.md``: every table of the reproduction, with the command that made it."""
    cfg = rep.config
    overall = rep.ratios[rep.ratios["workload"].isna() & rep.ratios["arrival"].isna()]
    by_arrival = rep.ratios[rep.ratios["workload"].isna() & rep.ratios["arrival"].notna()]
    per_work = rep.ratios[rep.ratios["workload"].notna()]
    sens = rep.sensitivity[rep.sensitivity["arrival"].isna()]
    areas = pd.DataFrame([{"hardware": k, **{f: v[f] for f in ("total", "stacking",
                                                                "p_batching", "fbe_lut")}}
                          for k, v in rep.areas.items()])
    abl = rep.ablation
    util = abl["utilisation"]
    util = util[util["batch"].isin([1, 2, 4, 8, 16, 32])].pivot_table(
        index=["model", "variant"], columns="batch", values="utilisation",
        sort=False).reset_index()
    cd = rep.codesign
    front = cd[cd["on_front"] | (cd["search"] == "fixed baseline")].sort_values(
        ["search", "area_mm2"])
    rank = rep.ranking.sort_values(["shift", "hardware", "tail", "average"],
                                   ascending=[True, True, False, False])
    parts = [
        "# Reproduction results", "",
        f"Command: `{command}`", "",
        f"Models {', '.join(cfg.models)}; tenants "
        f"{', '.join(f'{n} ({m}, {w:g})' for n, m, w in cfg.tenants)}; arrivals "
        f"{', '.join(cfg.arrivals)}; loads {', '.join(f'{x:g}' for x in cfg.loads)}; "
        f"SLO targets {', '.join(f'{x:g}' for x in cfg.slo_x)} x the isolated latency; "
        f"{cfg.n_requests} requests per run; tuning {cfg.budget} trials on "
        f"{cfg.tuning_runs} tuning seed(s); {cfg.held_out} held-out seeds "
        f"({cfg.sensitivity_seeds} for the exit-profile sensitivity, {cfg.ablation_seeds} "
        f"for the ablation); co-design {cfg.codesign_trials} trials per search; "
        f"area budget {cfg.area_budget_mm2:g} mm2.", "",
        "Held equal:", "", *[f"* {line}" for line in rep.held_equal], "",
        "## Hardware", "", md_table(areas, {"hardware": "hardware", "total": "area mm2",
                                            "stacking": "stacking", "p_batching": "P-batching",
                                            "fbe_lut": "FBE table"}), "",
        "## Fluid on fluid hardware against the best tuned baseline", "",
        "All workloads (mean over workloads per held-out seed):", "",
        _ratios_md(overall, []), "", "By arrival process:", "",
        _ratios_md(by_arrival, ["arrival"]), "", "By workload:", "",
        _ratios_md(per_work, ["workload", "arrival"]), "",
        "## Satisfaction of every policy (average / tail, held-out means)", "",
        _summary_md(rep.summary), "",
        "## Tuned parameters", "",
        md_table(rep.tuning, {"workload": "workload", "arrival": "arrival",
                              "hardware": "hardware", "policy": "policy", "score": "score",
                              "default_score": "defaults' score", "params": "parameters"}), "",
        "## Hardware ablation", "",
        md_table(abl["variants"]), "", "Tuned fluid scheduler on each variant:", "",
        md_table(abl["satisfaction"][["variant", "arrival", "average", "average_lo",
                                      "average_hi", "tail", "tail_lo", "tail_hi"]]), "",
        "MAC utilisation (total cycles) by batch size:", "", md_table(util), "",
        "## Co-design", "",
        md_table(front, {"search": "search", "area_mm2": "area mm2",
                         "satisfaction": "satisfaction (tuning seed)",
                         "held_out": "held-out", "params": "design"}), "",
        "## Sensitivity to the exit profile", "",
        _ratios_md(sens, ["shift"]), "", "Ranking per exit shift (by tail, then average):", "",
        md_table(rank, {"shift": "shift", "hardware": "hardware", "policy": "policy",
                        "average": "average", "tail": "tail", "seeds": "seeds"}), "",
        "Run time: " + ", ".join(f"{k} {v:.0f} s" for k, v in rep.seconds.items()), ""]
    return "\n".join(parts)


def write_reproduction(rep, out_dir: str, *, command: str) -> list[str]:
    """Write every table (CSV), ``results.md`` and the figures into ``out_dir``; returns
    the paths written."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in TABLES:
            paths.append(out / f"{name}.csv")
            getattr(rep, name).to_csv(paths[-1], index=False)
        for name, frame in rep.ablation.items():
            paths.append(out / f"ablation_{name}.csv")
            frame.to_csv(paths[-1], index=False)
        paths.append(out / "results.md")
        paths[-1].write_text(results_markdown(rep, command))
        for name, fig in (("satisfaction", satisfaction_figure(rep.summary)),
                          ("utilisation", utilisation_figure(rep.ablation["utilisation"])),
                          ("codesign", codesign_figure(rep.codesign)),
                          ("sensitivity", sensitivity_figure(rep.sensitivity))):
            paths.append(out / f"{name}.html")
            fig.write_html(paths[-1], include_plotlyjs="cdn")
    except OSError as exc:
        raise InputError(f"cannot write into {out}: {exc.strerror}", field="out") from None
    return [str(p) for p in paths]
