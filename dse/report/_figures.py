"""Plotly figures of a study (Pareto front, hypervolume, parallel coordinates, importances)
and of one design (latency CDF, per-layer latency/utilisation, area, batching modes)."""

from __future__ import annotations

import html
import math

import numpy as np
import optuna
import plotly.graph_objects as go

from dse.report._study import StudyData, trial_area
from dse.search import pareto_mask

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#475569", "#ea580c")
FONT = dict(family="Inter, -apple-system, Segoe UI, Helvetica, Arial, sans-serif", size=12,
            color="#1f2937")


def _layout(fig: go.Figure, *, height: int = 380, **kw) -> go.Figure:
    kw.setdefault("margin", dict(l=60, r=20, t=40, b=50))
    kw.setdefault("legend", dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_layout(template="plotly_white", font=FONT, height=height, **kw)
    return fig


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return html.escape(str(v))


def hover_text(data: StudyData, i: int) -> str:
    """The whole design of trial row ``i`` as plotly hover HTML."""
    t = data.trials[i]
    ua = t.user_attrs
    lines = [f"<b>trial {t.number}</b>"
             + (" · Pareto" if data.pareto[i] else "")
             + ("" if data.feasible[i] else " · infeasible")]
    for name, v in zip(data.metric_names, t.values, strict=True):
        lines.append(f"{html.escape(name)} = {_fmt(float(v))}")
    params = ua.get("policy_params") or {}
    lines.append(f"<b>policy</b> {html.escape(str(ua.get('policy', '?')))}"
                 + (" (" + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()) + ")"
                    if params else ""))
    npu = ua.get("npu") or {}
    items = [f"{k}={_fmt(v)}" for k, v in npu.items()]
    for j in range(0, len(items), 4):
        lines.append(("<b>npu</b> " if j == 0 else "") + ", ".join(items[j:j + 4]))
    overall = (ua.get("metrics") or {}).get("overall") or {}
    keys = ("slo_attainment", "p95_latency_ms", "mean_batch", "utilisation",
            "energy_uj_per_request")
    shown = [f"{k}={_fmt(overall[k])}" for k in keys if k in overall]
    if shown:
        lines.append("<b>metrics</b> " + ", ".join(shown))
    return "<br>".join(lines)


def pareto_figure(data: StudyData, knee: int | None = None) -> go.Figure:
    """SLO objective vs area; Pareto trials coloured as :func:`colour_rule` says; the knee
    trial (if given) annotated."""
    area = trial_area(data)
    si = data.slo_index
    slo = data.values[:, si] if len(data.trials) else np.zeros(0)
    texts = [hover_text(data, i) for i in range(len(data.trials))]
    numbers = data.numbers
    fig = go.Figure()
    dom = np.flatnonzero(data.feasible & ~data.pareto)
    inf = np.flatnonzero(~data.feasible)
    par = np.flatnonzero(data.pareto)
    par = par[np.argsort(area[par], kind="stable")]
    fig.add_trace(go.Scatter(
        x=area[dom], y=slo[dom], mode="markers", name="dominated", uid="dominated",
        marker=dict(color="rgba(100,116,139,0.35)", size=7),
        hovertext=[texts[i] for i in dom], hoverinfo="text", customdata=numbers[dom]))
    if len(inf):
        fig.add_trace(go.Scatter(
            x=area[inf], y=slo[inf], mode="markers", name="infeasible", uid="infeasible",
            marker=dict(color="rgba(148,163,184,0.6)", size=7, symbol="x"),
            hovertext=[texts[i] for i in inf], hoverinfo="text", customdata=numbers[inf]))
    marker: dict = dict(size=12, line=dict(color="white", width=1.5))
    kind, label = colour_rule(data)
    if kind == "objective":
        k = data.metric_names.index(label)
        marker.update(color=data.values[par, k], colorscale="Viridis",
                      reversescale=data.directions[k] == "minimize", showscale=True,
                      colorbar=dict(title=dict(text=label, side="right"), thickness=12))
    elif kind == "metric":
        vals = [float(((data.trials[i].user_attrs.get("metrics") or {}).get("overall") or {})
                      .get(label, np.nan)) for i in par]
        marker.update(color=vals, colorscale="Viridis", reversescale=True, showscale=True,
                      colorbar=dict(title=dict(text=label, side="right"), thickness=12))
    else:
        policies = [str(data.trials[i].user_attrs.get("policy", "?")) for i in par]
        names = sorted(set(policies))
        cmap = {p: PALETTE[j % len(PALETTE)] for j, p in enumerate(names)}
        marker.update(color=[cmap[p] for p in policies])
        for p in names:  # legend entries for the policy colours
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"policy {p}",
                                     marker=dict(color=cmap[p], size=10), hoverinfo="skip"))
    # the step line joins the trade-off curve: Pareto points not dominated in (SLO, area)
    sign = -1.0 if data.directions[si] == "maximize" else 1.0
    line = par[pareto_mask(np.column_stack([sign * slo[par], area[par]]))] if len(par) else par
    if len(line) > 1:
        fig.add_trace(go.Scatter(x=area[line], y=slo[line], mode="lines", name="front",
                                 line=dict(color="rgba(37,99,235,0.35)", width=2,
                                           shape="hv"),
                                 hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(
        x=area[par], y=slo[par], mode="markers", name="Pareto front", uid="pareto",
        marker=marker, hovertext=[texts[i] for i in par], hoverinfo="text",
        customdata=numbers[par]))
    xlab = (data.metric_names[data.area_index] if data.area_index is not None
            else "area (mm2)")
    _layout(fig, height=460, xaxis_title=f"{xlab}", yaxis_title=data.metric_names[si],
            hoverlabel=dict(bgcolor="white", font=dict(size=11), align="left"),
            updatemenus=[dict(type="buttons", direction="left", x=1.0, xanchor="right",
                              y=1.12, yanchor="bottom", showactive=True, buttons=[
                                  dict(label="show dominated", method="restyle",
                                       args=[{"visible": True}, [0]]),
                                  dict(label="hide dominated", method="restyle",
                                       args=[{"visible": "legendonly"}, [0]])])])
    if knee is not None and knee in set(numbers[par].tolist()):
        i = int(np.flatnonzero(numbers == knee)[0])
        fig.add_annotation(x=float(area[i]), y=float(slo[i]), text=f"knee (trial {knee})",
                           showarrow=True, arrowhead=2, ax=60, ay=40,
                           font=dict(size=11, color="#111827"), bgcolor="white",
                           bordercolor="#9ca3af", borderwidth=1)
    return fig


def colour_rule(data: StudyData) -> tuple[str, str]:
    """How Pareto points are coloured: ("objective", name) for a third objective, else
    ("policy", "policy") when several policies are on the front, else ("metric",
    "energy_uj_per_request") when trials store it, else ("policy", "policy")."""
    si, ai = data.slo_index, data.area_index
    third = [n for i, n in enumerate(data.metric_names) if i not in (si, ai)]
    if third:
        return "objective", third[0]
    policies = {str(data.trials[i].user_attrs.get("policy", "?"))
                for i in np.flatnonzero(data.pareto)}
    has_energy = any("energy_uj_per_request" in ((t.user_attrs.get("metrics") or {})
                                                 .get("overall") or {}) for t in data.trials)
    if len(policies) <= 1 and has_energy:
        return "metric", "energy_uj_per_request"
    return "policy", "policy"


def hv_bounds(data: StudyData):
    """(lower, upper) of each minimised objective over the feasible trials (a zero range is
    widened to ``max(|value|, 1)``): the normalisation ``dse run`` and ``dse status`` use."""
    pts = data.minimised()[data.feasible]
    m = data.values.shape[1]
    lower, upper = np.zeros(m), np.ones(m)
    for i in range(m):
        col = pts[:, i][np.isfinite(pts[:, i])] if len(pts) else pts[:, i]
        if len(col):
            lower[i], upper[i] = col.min(), col.max()
        if not upper[i] > lower[i]:
            upper[i] = lower[i] + max(abs(lower[i]), 1.0)
    return lower, upper


def hypervolume_history(data: StudyData) -> tuple[np.ndarray, np.ndarray]:
    """(trial numbers, normalised hypervolume of the feasible trials completed so far).

    Same convention as ``dse status``: objectives scaled to [0, 1] by their final range
    over feasible trials (0 = best), reference point 1.1, volume divided by 1.1^m.
    """
    from dse.search import hypervolume

    n = len(data.trials)
    hv = np.zeros(n)
    if n == 0 or not data.feasible.any():
        return data.numbers, hv
    lower, upper = hv_bounds(data)
    z = data.minimised()
    current, front = 0.0, np.zeros((0, z.shape[1]))
    for i in range(n):
        if data.feasible[i] and not np.any(np.all(front <= z[i], axis=1)):
            front = np.vstack([front[~np.all(z[i] <= front, axis=1)], z[i]])
            current = hypervolume(front, lower, upper)
        hv[i] = current
    return data.numbers, hv


def hypervolume_figure(data: StudyData) -> go.Figure:
    numbers, hv = hypervolume_history(data)
    fig = go.Figure(go.Scatter(x=numbers, y=hv, mode="lines+markers", name="hypervolume",
                               line=dict(color=PALETTE[0], width=2, shape="hv"),
                               marker=dict(size=4)))
    return _layout(fig, height=320, xaxis_title="trial number",
                   yaxis_title="normalised hypervolume", showlegend=False)


def _category_key(label: str):
    """Sort categories numerically when they are numbers, "n/a" last."""
    try:
        return (label == "n/a", 0, float(label), label)
    except ValueError:
        return (label == "n/a", 1, 0.0, label)


def parallel_figure(data: StudyData) -> go.Figure | None:
    """Searched parameters and objectives of complete trials as parallel coordinates."""
    trials = data.trials
    if len(trials) < 2:
        return None
    names: list[str] = []
    for t in trials:
        for k in t.params:
            if k not in names:
                names.append(k)
    dims = []
    for k in names:
        vals = [t.params.get(k) for t in trials]
        dist = next(t.distributions[k] for t in trials if k in t.distributions)
        if isinstance(dist, optuna.distributions.CategoricalDistribution) or any(
                v is None for v in vals):
            labels = [str(v) if v is not None else "n/a" for v in vals]
            cats = sorted(set(labels), key=_category_key)
            if len(cats) < 2:
                continue
            code = {c: j for j, c in enumerate(cats)}
            dims.append(dict(label=k, values=[code[s] for s in labels],
                             tickvals=list(range(len(cats))), ticktext=cats))
        else:
            arr = np.asarray(vals, dtype=np.float64)
            if np.all(arr == arr[0]):
                continue
            dims.append(dict(label=k, values=arr.tolist()))
    for j, name in enumerate(data.metric_names):
        dims.append(dict(label=name, values=data.values[:, j].tolist()))
    si = data.slo_index
    fig = go.Figure(go.Parcoords(
        line=dict(color=data.values[:, si], colorscale="Viridis",
                  reversescale=data.directions[si] == "minimize", showscale=True,
                  colorbar=dict(title=dict(text=data.metric_names[si], side="right"),
                                thickness=12)),
        dimensions=dims, labelangle=-20, labelside="top"))
    return _layout(fig, height=440, margin=dict(l=70, r=70, t=90, b=30))


MIN_TRIALS_FOR_IMPORTANCE = 8


def importances(study: optuna.Study, data: StudyData) -> tuple[dict[str, dict], str | None]:
    """PED-ANOVA parameter importances (Optuna's default evaluator; no SciPy/sklearn).

    One set for reaching the Pareto front (all objectives, Optuna's multi-objective
    ranking) and one per objective; or ``({}, reason)`` when they cannot be computed.
    """
    import warnings

    n = len(data.trials)
    if n < MIN_TRIALS_FOR_IMPORTANCE:
        return {}, (f"parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCE} "
                    f"complete trials (this study has {n})")
    out: dict[str, dict] = {}
    first = data.directions[0]
    targets: list = [("Pareto front", None)] if len(data.metric_names) > 1 else []
    for j, name in enumerate(data.metric_names):
        sign = 1.0 if data.directions[j] == first else -1.0  # PED-ANOVA ranks by direction 0
        targets.append((name, lambda t, j=j, sign=sign: sign * t.values[j]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, target in targets:
            try:
                imp = optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                    target=target)
            except (RuntimeError, ValueError, ZeroDivisionError) as exc:
                return {}, f"parameter importances unavailable: {exc}"
            out[name] = {k: float(v) for k, v in imp.items()}
    if not any(out.values()):
        return {}, "parameter importances unavailable: no parameter varies across trials"
    return out, None


def importance_figure(imp: dict[str, dict]) -> go.Figure:
    params: list[str] = []
    for d in imp.values():
        for k in d:
            if k not in params:
                params.append(k)
    first = next(iter(imp.values()))
    params.sort(key=lambda k: first.get(k, 0.0))
    fig = go.Figure()
    for j, (name, d) in enumerate(imp.items()):
        fig.add_trace(go.Bar(y=params, x=[d.get(k, 0.0) for k in params], name=name,
                             orientation="h", marker_color=PALETTE[j % len(PALETTE)]))
    return _layout(fig, height=min(560, max(300, 80 + 12 * len(params) * max(1, len(imp)))),
                   barmode="group", xaxis_title="PED-ANOVA importance (normalised)")


# ----------------------------------------------------------------- one design


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
