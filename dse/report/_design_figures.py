"""Plotly figures of one design: latency CDF per stream, per-layer latency and
utilisation, area breakdown and the batching-mode table."""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from dse.report._figures import PALETTE, _layout


def cdf_figure(latency_ms: np.ndarray, stream: np.ndarray, stream_names, slo_ms,
               dropped: np.ndarray, max_points: int = 300) -> go.Figure:
    """Empirical latency CDF per stream; dropped requests count as never completing."""
    fig = go.Figure()
    for s, name in enumerate(stream_names):
        sel = stream == s
        n = int(sel.sum())
        if n == 0:
            continue
        lat = np.sort(latency_ms[sel & ~dropped])
        if len(lat) == 0:
            continue
        q = np.arange(1, len(lat) + 1) / n
        if len(lat) > max_points:
            pick = np.unique(np.linspace(0, len(lat) - 1, max_points).round().astype(int))
            lat, q = lat[pick], q[pick]
        colour = PALETTE[s % len(PALETTE)]
        fig.add_trace(go.Scatter(x=lat, y=q, mode="lines", name=str(name),
                                 line=dict(color=colour, width=2, shape="hv"),
                                 hovertemplate="%{x:.3g} ms: %{y:.3f}<extra>" + html.escape(
                                     str(name)) + "</extra>"))
        if slo_ms is not None and s < len(slo_ms) and math.isfinite(float(slo_ms[s])):
            fig.add_vline(x=float(slo_ms[s]), line=dict(color=colour, dash="dot", width=1))
    _layout(fig, height=340, xaxis_title="latency (ms)", yaxis_title="share of requests",
            yaxis_range=[0, 1.02])
    fig.update_xaxes(type="log")
    return fig


def layers_figure(model: str, d: dict) -> go.Figure:
    """One model's per-layer latency (bars, ms per layer pass) at batch 1 and at a second
    batch size ``bmax`` (the design's mean batch), and MAC utilisation (lines, right axis).

    ``d``: ``layers`` (names), ``ms_b1``, ``ms_bmax``, ``util_b1``, ``util_bmax``, ``bmax``.
    """
    x = list(d["layers"])
    b = d["bmax"]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=d["ms_b1"], name="ms, batch 1", marker_color=PALETTE[0]))
    fig.add_trace(go.Bar(x=x, y=d["ms_bmax"], name=f"ms, batch {b}", marker_color=PALETTE[5],
                         opacity=0.75))
    fig.add_trace(go.Scatter(x=x, y=d["util_b1"], name="utilisation, batch 1", yaxis="y2",
                             mode="lines", line=dict(color=PALETTE[1], width=1.5)))
    fig.add_trace(go.Scatter(x=x, y=d["util_bmax"], name=f"utilisation, batch {b}",
                             yaxis="y2", mode="lines",
                             line=dict(color=PALETTE[3], width=1.5, dash="dot")))
    _layout(fig, height=360, barmode="group", yaxis_title="latency per layer pass (ms)",
            title=dict(text=html.escape(model), font=dict(size=13), x=0.01, y=0.98),
            margin=dict(l=60, r=60, t=60, b=90),
            yaxis2=dict(title="MAC utilisation", overlaying="y", side="right",
                        range=[0, 1.05], dtick=0.2, tickformat=".1f", showgrid=False))
    fig.update_xaxes(tickangle=-60, tickfont=dict(size=8))
    return fig


def area_figure(area: dict) -> go.Figure:
    items = sorted(((k, float(v)) for k, v in area.items() if k != "total"),
                   key=lambda kv: kv[1])
    total = float(area.get("total", sum(v for _, v in items)))
    fig = go.Figure(go.Bar(y=[k for k, _ in items], x=[v for _, v in items], orientation="h",
                           marker_color=PALETTE[0],
                           text=[f"{v:.3g} ({100 * v / total:.0f}%)" if total > 0 else f"{v:.3g}"
                                 for _, v in items], textposition="auto"))
    return _layout(fig, height=max(240, 60 + 26 * len(items)),
                   xaxis_title=f"area (mm2), total {total:.4g}", showlegend=False)


def modes_figure(model: str, layer_names, modes: np.ndarray, util: np.ndarray) -> go.Figure:
    """Batching-mode table <B_R, B_P, k> per (layer, batch size), coloured by utilisation."""
    n_layers, n_b = modes.shape[0], modes.shape[1]
    bs = list(range(1, n_b))
    text = [[f"{modes[i, b, 0]}·{modes[i, b, 1]}·{modes[i, b, 2]}" for b in bs]
            for i in range(n_layers)]
    fig = go.Figure(go.Heatmap(
        z=util[:, 1:], x=[str(b) for b in bs], y=list(layer_names), text=text,
        texttemplate="%{text}" if n_layers * len(bs) <= 1200 else None,
        textfont=dict(size=8), colorscale="Blues", zmin=0, zmax=1,
        colorbar=dict(title=dict(text="utilisation", side="right"), thickness=12),
        hovertemplate="layer %{y}, batch %{x}<br>B_R·B_P·k = %{text}<br>"
                      "utilisation %{z:.2f}<extra></extra>"))
    _layout(fig, height=min(1400, max(280, 80 + 11 * n_layers)), title=dict(
        text=f"{html.escape(model)}: B_R·B_P·k per layer and batch size", font=dict(size=13)),
        xaxis_title="batch size", margin=dict(l=110, r=20, t=50, b=50))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9))
    return fig
