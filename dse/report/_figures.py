"""Plotly figures of a study (Pareto front, hypervolume, parallel coordinates, importances)
and of one design (latency CDF, per-layer latency/utilisation, area, batching modes)."""

from __future__ import annotations

import html
import math

import numpy as np
import optuna
import plotly.graph_objects as go

from dse.report._study import StudyData, trial_area

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


def pareto_figure(data: StudyData) -> go.Figure:
    """SLO objective vs area; Pareto trials coloured by the 3rd objective or by policy."""
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
    third = [i for i in range(len(data.metric_names)) if i != si and i != data.area_index]
    marker: dict = dict(size=12, line=dict(color="white", width=1.5))
    if third:
        k = third[0]
        marker.update(color=data.values[par, k], colorscale="Viridis",
                      reversescale=data.directions[k] == "minimize", showscale=True,
                      colorbar=dict(title=dict(text=data.metric_names[k], side="right"),
                                    thickness=12))
    else:
        policies = [str(data.trials[i].user_attrs.get("policy", "?")) for i in par]
        names = sorted(set(policies))
        cmap = {p: PALETTE[j % len(PALETTE)] for j, p in enumerate(names)}
        marker.update(color=[cmap[p] for p in policies])
        for p in names:  # legend entries for the policy colours
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"policy {p}",
                                     marker=dict(color=cmap[p], size=10), hoverinfo="skip"))
    if len(par) > 1:
        fig.add_trace(go.Scatter(x=area[par], y=slo[par], mode="lines", name="front",
                                 line=dict(color="rgba(37,99,235,0.35)", width=2,
                                           shape="hv" if data.directions[si] == "maximize"
                                           else "linear"),
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
    fig.update_xaxes(rangemode="tozero")
    return fig


def _hv2d(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of minimisation points w.r.t. ``ref``."""
    pts = points[np.all(points < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume dominated by minimisation ``points`` up to ``ref``."""
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 2:
        return _hv2d(points, ref)
    from optuna._hypervolume import compute_hypervolume

    pts = points[np.all(points < ref, axis=1)]
    return float(compute_hypervolume(pts, ref)) if len(pts) else 0.0


def normaliser(data: StudyData):
    """Map minimised objectives to [0, 1] over feasible trials; reference point 1.1."""
    pts = data.minimised()[data.feasible]
    if len(pts) == 0:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return lambda p: (p - lo) / span


def hypervolume_history(data: StudyData) -> tuple[np.ndarray, np.ndarray]:
    """(trial numbers, normalised hypervolume of the feasible trials completed so far)."""
    norm = normaliser(data)
    n, m = data.values.shape
    if norm is None:
        return data.numbers, np.zeros(n)
    z = norm(data.minimised())
    ref = np.full(m, 1.1)
    hv = np.zeros(n)
    front = np.zeros((0, m))
    current = 0.0
    for i in range(n):
        if data.feasible[i]:
            p = z[i]
            if not np.any(np.all(front <= p, axis=1)):
                keep = ~np.all(p <= front, axis=1)
                front = np.vstack([front[keep], p])
                current = hypervolume(front, ref)
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
    return _layout(fig, height=max(260, 40 + 28 * len(params) * max(1, len(imp))),
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


def layers_figure(per_model: dict) -> go.Figure:
    """Per-layer latency (bars, ms) and MAC utilisation (lines, right axis) per model.

    ``per_model``: name -> dict(layers=[names], ms_b1, ms_bmax, util_b1, util_bmax, bmax).
    """
    fig = go.Figure()
    for j, (model, d) in enumerate(per_model.items()):
        c1 = PALETTE[(2 * j) % len(PALETTE)]
        c2 = PALETTE[(2 * j + 1) % len(PALETTE)]
        x = [f"{model}/{n}" if len(per_model) > 1 else n for n in d["layers"]]
        fig.add_trace(go.Bar(x=x, y=d["ms_b1"], name=f"{model} ms, batch 1",
                             marker_color=c1, opacity=0.85))
        fig.add_trace(go.Bar(x=x, y=d["ms_bmax"], name=f"{model} ms, batch {d['bmax']}",
                             marker_color=c2, opacity=0.6))
        fig.add_trace(go.Scatter(x=x, y=d["util_b1"], name=f"{model} util, batch 1",
                                 yaxis="y2", mode="lines+markers",
                                 line=dict(color=c1, width=1.5), marker=dict(size=4)))
        fig.add_trace(go.Scatter(x=x, y=d["util_bmax"], name=f"{model} util, batch {d['bmax']}",
                                 yaxis="y2", mode="lines+markers",
                                 line=dict(color=c2, width=1.5, dash="dot"),
                                 marker=dict(size=4)))
    _layout(fig, height=380, barmode="group", yaxis_title="layer latency (ms)",
            yaxis2=dict(title="MAC utilisation", overlaying="y", side="right",
                        range=[0, 1.05], showgrid=False))
    fig.update_xaxes(tickangle=-60, tickfont=dict(size=9))
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
        texttemplate="%{text}" if n_layers * len(bs) <= 600 else None,
        textfont=dict(size=9), colorscale="Blues", zmin=0, zmax=1,
        colorbar=dict(title=dict(text="utilisation", side="right"), thickness=12),
        hovertemplate="layer %{y}, batch %{x}<br>B_R·B_P·k = %{text}<br>"
                      "utilisation %{z:.2f}<extra></extra>"))
    _layout(fig, height=max(280, 60 + 16 * n_layers), title=dict(
        text=f"{html.escape(model)}: B_R·B_P·k per layer and batch size", font=dict(size=13)),
        xaxis_title="batch size", margin=dict(l=110, r=20, t=50, b=50))
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=9))
    return fig
