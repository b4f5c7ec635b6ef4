"""Figure of a policy comparison (:func:`dse.experiments.compare`): SLO attainment vs load,
one panel per workload, one line per policy."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dse.common import InputError

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f")


def compare_figure(comparison, title: str) -> go.Figure:
    """The figure of ``comparison`` (hover: p95 latency and mean batch per point)."""
    runs = comparison.runs
    arrivals = list(dict.fromkeys(r["arrival"] for r in runs))
    fig = make_subplots(rows=1, cols=len(arrivals), shared_yaxes=True,
                        subplot_titles=[f"{a} arrivals" for a in arrivals])
    policies = list(dict.fromkeys(r["policy"] for r in runs))
    base = comparison.base_rate_rps
    for col, a in enumerate(arrivals, start=1):
        for i, pol in enumerate(policies):
            rows = [r for r in runs if r["arrival"] == a and r["policy"] == pol]
            fig.add_trace(go.Scatter(
                x=[r["load"] for r in rows], y=[r["slo_attainment"] for r in rows],
                mode="lines+markers", name=pol, legendgroup=pol, showlegend=col == 1,
                line={"color": PALETTE[i % len(PALETTE)]},
                customdata=[[r["p95_latency_ms"], r["mean_batch"]] for r in rows],
                hovertemplate=f"{pol}<br>load %{{x}}<br>SLO attainment %{{y:.3f}}"
                              "<br>p95 %{customdata[0]:.2f} ms<br>batch %{customdata[1]:.2f}"
                              "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="load factor" + (f" (1.0 = {base:.0f} req/s)"
                                                     if base else ""), row=1, col=col)
    fig.update_yaxes(title_text="SLO attainment", range=[0, 1.02], row=1, col=1)
    fig.update_layout(title=title, template="plotly_white", hovermode="closest")
    return fig


def write_compare_figure(comparison, path: str, *, design, workload: str) -> str:
    """Write the figure as HTML (plotly.js from its CDN) to ``path``; returns the path.
    The title names ``workload`` and the design's array and batching."""
    title = (f"SLO attainment vs load: {workload}, {design.pe_count}x{design.pe_width} PEs, "
             f"{design.batching} batching")
    try:
        compare_figure(comparison, title).write_html(path, include_plotlyjs="cdn")
    except OSError as exc:
        raise InputError(f"cannot write the figure: {exc.strerror}", field="out") from None
    return path
