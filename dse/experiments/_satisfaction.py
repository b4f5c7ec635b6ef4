"""Paper-style SLO satisfaction per seed on fair workloads, and its statistics.

A :class:`Workload` is one scenario (one model, or several tenants) with one arrival
process, at load 1.0 of the reference hardware, with absolute SLO references shared by
every hardware variant (:mod:`dse.experiments.fairness`).  :func:`seed_scores` runs the
load x SLO grid of one (design, policy, parameters, seed); :func:`summarize` and
:func:`versus` turn per-seed records into means with 95% confidence intervals and
ratios to the best baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dse.evaluation import satisfaction_sweep
from dse.experiments.fairness import reference_capacity_rps, slo_reference_ms, spike_params
from dse.metrics.stats import mean_ci, ratio_ci

#: The two paper-style metrics and the tie-breaking SLO attainment, per seed.
SCORES = ("average", "tail", "attainment")


@dataclass(frozen=True)
class Workload:
    """``scenario`` at load 1.0 (absolute rates); ``slo_ref_ms`` per model (the grid's SLO
    targets are multiples of it); ``name`` the model or tenant mix, ``arrival`` its
    arrival process."""

    name: str
    arrival: str
    scenario: object
    slo_ref_ms: dict

    @property
    def key(self) -> str:
        return f"{self.name}/{self.arrival}"


def make_workload(name: str, arrival: str, streams: list[tuple[str, str, float]], *,
                  designs, reference, batch: int, exit_shift: float | None = None
                  ) -> Workload:
    """A workload of ``streams`` (stream name, model, share of the requests) arriving by
    ``arrival``, at load 1.0 = the best capacity among ``designs`` with the (shifted)
    exit profiles; SLO references and spike sizes from ``reference`` (a design)."""
    from workloads import Scenario

    models = [m for _, m, _ in streams]
    ref = slo_reference_ms(reference, models)
    base = Scenario.from_dict({"name": name, "streams": [
        {"name": s, "model": m, "arrival": "poisson", "rate_rps": share, "slo_ms": ref[m]}
        for s, m, share in streams]}, source=f"workload {name}")
    if exit_shift is not None:
        base = base.with_exit_shift(exit_shift)
    cap = reference_capacity_rps(designs, base, batch=batch)
    table = base.to_dict()
    total = sum(share for _, _, share in streams)
    for st, (_, m, share) in zip(table["streams"], streams, strict=True):
        st["rate_rps"] = cap * share / total
        st["arrival"] = arrival
        if arrival == "spikes":
            # the stream's part of a spike worth SPIKE_X isolated latencies at capacity
            st.update(spike_params(cap * share / total, ref[m]))
    return Workload(name, arrival, Scenario.from_dict(table, source=f"workload {name}"), ref)


def seed_scores(design, workload: Workload, policy: str, params: dict, *, loads, slo_x,
                seed: int, n_requests: int) -> dict:
    """``{"average", "tail", "attainment"}`` of one seed: the paper-style satisfactions
    over ``loads`` x ``slo_x`` and the mean SLO attainment over those points."""
    sweep = satisfaction_sweep(design, workload.scenario, policy, params, loads=loads,
                               slo_x=slo_x, n_requests=n_requests, seed=seed,
                               slo_ref_ms=workload.slo_ref_ms)
    return {"average": float(sweep["average"]), "tail": float(sweep["tail"]),
            "attainment": float(np.mean([g["slo_attainment"] for g in sweep["grid"]]))}


def tuning_score(scores: list[dict]) -> float:
    """What tuning maximizes: the mean over seeds of (average + tail + attainment) / 3
    (attainment breaks the ties of the coarse satisfaction shares)."""
    return float(np.mean([(s["average"] + s["tail"] + s["attainment"]) / 3.0
                          for s in scores]))


def summarize(records: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and 95% t interval over seeds (clipped to [0, 1]) of every score, per ``by``
    group; records are first averaged over the workloads a group spans, per seed."""
    per_seed = records.groupby([*by, "seed"], sort=False)[list(SCORES)].mean().reset_index()
    rows = []
    for key, g in per_seed.groupby(by, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        for s in SCORES:
            row[s], row[f"{s}_lo"], row[f"{s}_hi"] = mean_ci(g[s], bounds=(0.0, 1.0))
        row["seeds"] = len(g)
        rows.append(row)
    return pd.DataFrame(rows)


def versus(records: pd.DataFrame, by: list[str], *, target: dict, rivals: dict,
           label: str) -> pd.DataFrame:
    """Target configuration against the best rival per ``by`` group and metric.

    ``target`` / ``rivals`` select rows by column values (``rivals`` may list several
    values per column); the best rival is the one of highest held-out mean (chosen after
    the fact, which favours the rivals).  Per metric: the ratio of means with a paired
    bootstrap interval, and the mean paired difference with a t interval in [-1, 1]."""
    per_seed = records.groupby([*by, "hardware", "policy", "seed"], sort=False)[
        list(SCORES)].mean().reset_index()

    def select(frame, spec):
        mask = np.ones(len(frame), dtype=bool)
        for col, val in spec.items():
            mask &= frame[col].isin(val if isinstance(val, list | tuple) else [val])
        return frame[mask]

    rows = []
    groups = per_seed.groupby(by, sort=False) if by else [((), per_seed)]
    for key, g in groups:
        head = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=False))
        mine = select(g, target).sort_values("seed")
        for metric in ("average", "tail"):
            others = select(g, rivals)
            means = others.groupby(["hardware", "policy"], sort=False)[metric].mean()
            hw, pol = means.idxmax()
            best = others[(others.hardware == hw) & (others.policy == pol)].sort_values("seed")
            a, b = mine[metric].to_numpy(), best[metric].to_numpy()
            ratio, r_lo, r_hi = ratio_ci(a, b)
            diff, d_lo, d_hi = mean_ci(a - b, bounds=(-1.0, 1.0))
            rows.append({**head, "versus": label, "metric": metric, "target": float(a.mean()),
                         "best_rival": f"{pol} on {hw}", "rival": float(b.mean()),
                         "ratio": ratio, "ratio_lo": r_lo, "ratio_hi": r_hi,
                         "difference": diff, "difference_lo": d_lo, "difference_hi": d_hi,
                         "seeds": len(a)})
    return pd.DataFrame(rows)

