"""Plotly figures of a reproduction: satisfaction per policy and hardware, MAC utilisation
by batch size per hardware variant, the co-design fronts, and the exit-profile
sensitivity of the ratios."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dse.report._figures import PALETTE, _layout


def _err(frame, metric):
    return dict(type="data", symmetric=False,
                array=(frame[f"{metric}_hi"] - frame[metric]).fillna(0).tolist(),
                arrayminus=(frame[metric] - frame[f"{metric}_lo"]).fillna(0).tolist())


def satisfaction_figure(summary) -> go.Figure:
    """Average- and tail-latency SLO satisfaction (held-out means, 95% CIs) of every
    policy on both hardware variants, one column per workload and arrival process."""
    keys = list(dict.fromkeys(zip(summary["workload"], summary["arrival"], strict=True)))
    fig = make_subplots(rows=2, cols=len(keys), shared_yaxes=True,
                        subplot_titles=[f"{w} / {a}" for w, a in keys],
                        row_titles=["average", "tail"], vertical_spacing=0.12)
    hws = list(dict.fromkeys(summary["hardware"]))
    for col, (w, a) in enumerate(keys, start=1):
        for row, metric in enumerate(("average", "tail"), start=1):
            for i, hw in enumerate(hws):
                f = summary[(summary.workload == w) & (summary.arrival == a)
                            & (summary.hardware == hw)]
                fig.add_trace(go.Bar(x=f["policy"], y=f[metric], name=hw, legendgroup=hw,
                                     showlegend=row == 1 and col == 1,
                                     marker_color=PALETTE[i], error_y=_err(f, metric)),
                              row=row, col=col)
    fig.update_yaxes(range=[0, 1.05])
    return _layout(fig, height=620, barmode="group",
                   title="SLO satisfaction on held-out seeds (95% CI)")


def utilisation_figure(util) -> go.Figure:
    """MAC utilisation (total cycles) vs batch size, per model and hardware variant."""
    models = list(dict.fromkeys(util["model"]))
    fig = make_subplots(rows=1, cols=len(models), shared_yaxes=True, subplot_titles=models)
    for col, m in enumerate(models, start=1):
        for i, v in enumerate(dict.fromkeys(util["variant"])):
            f = util[(util.model == m) & (util.variant == v)]
            fig.add_trace(go.Scatter(x=f["batch"], y=f["utilisation"], mode="lines", name=v,
                                     legendgroup=v, showlegend=col == 1,
                                     line=dict(color=PALETTE[i % len(PALETTE)],
                                               dash="solid" if "+stack" in v else "dot")),
                          row=1, col=col)
        fig.update_xaxes(title_text="batch size", type="log", row=1, col=col)
    fig.update_yaxes(title_text="MAC utilisation", range=[0, 1], row=1, col=1)
    return _layout(fig, height=420, title="MAC utilisation by batch size")


def codesign_figure(codesign) -> go.Figure:
    """SLO satisfaction vs area: every co-design trial, the two fronts, fixed baselines."""
    fig = go.Figure()
    for i, search in enumerate(dict.fromkeys(codesign["search"])):
        f = codesign[(codesign.search == search) & codesign.feasible]
        front = f[f.on_front].sort_values("area_mm2")
        color = PALETTE[i]
        if search == "fixed baseline":
            fig.add_trace(go.Scatter(x=f["area_mm2"], y=f["satisfaction"], mode="markers",
                                     name=search, text=f["params"],
                                     marker=dict(color=color, symbol="x", size=9)))
            continue
        fig.add_trace(go.Scatter(x=f["area_mm2"], y=f["satisfaction"], mode="markers",
                                 name=f"{search} trials", text=f["params"], opacity=0.35,
                                 marker=dict(color=color, size=6)))
        fig.add_trace(go.Scatter(x=front["area_mm2"], y=front["satisfaction"],
                                 mode="lines+markers", name=f"{search} front",
                                 text=front["params"], line=dict(color=color, shape="hv")))
    fig.update_xaxes(title_text="area (mm2)")
    fig.update_yaxes(title_text="SLO satisfaction (average + tail) / 2", range=[0, 1.05])
    return _layout(fig, height=480, title="Co-design: satisfaction vs area")


def _shift_value(label: str) -> float:
    return 0.0 if label == "none" else float(label)


def sensitivity_figure(sensitivity) -> go.Figure:
    """Ratio of fluid on fluid hardware to the best baseline, per exit shift."""
    f = sensitivity[sensitivity["arrival"].isna()]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=["average", "tail"])
    for col, metric in enumerate(("average", "tail"), start=1):
        for i, label in enumerate(dict.fromkeys(f["versus"])):
            g = f[(f.metric == metric) & (f.versus == label)]
            g = g.sort_values("shift", key=lambda s: s.map(_shift_value))
            fig.add_trace(go.Scatter(x=g["shift"], y=g["ratio"], mode="lines+markers",
                                     name=label, legendgroup=label, showlegend=col == 1,
                                     line=dict(color=PALETTE[i]),
                                     error_y=dict(type="data", symmetric=False,
                                                  array=(g.ratio_hi - g.ratio).tolist(),
                                                  arrayminus=(g.ratio - g.ratio_lo).tolist())),
                          row=1, col=col)
        fig.update_xaxes(title_text="exit shift (none = the nominal profile, +1 = no exits)",
                         type="category", row=1, col=col)
    fig.update_yaxes(title_text="ratio to the best baseline", row=1, col=1)
    return _layout(fig, height=420, title="Sensitivity to the exit profile")
