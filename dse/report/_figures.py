"""Plotly figures of a study: Pareto front, hypervolume, parallel coordinates,
importances (one design's figures: ``_design_figures``)."""

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


def axis_title(name: str, short: bool = False) -> str:
    """An axis title from the metric catalogue: what the metric is and its unit
    (``area_mm2`` -> "chip area (mm2)"; ``streams.voice.slo_attainment`` -> "voice: share
    of requests within their stream's SLO"; ``short``: the name and unit, "area_mm2
    (mm2)"); unknown names stay as they are."""
    from dse.metrics import METRICS, split_metric

    stream, base = split_metric(name)
    m = METRICS.get(base)
    if m is None:
        return name
    if short:
        return name + (f" ({m.unit})" if m.unit else "")
    text = m.doc + (f" ({m.unit})" if m.unit else "")
    return f"{stream}: {text}" if stream else text


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
                      colorbar=dict(title=dict(text=axis_title(label), side="right"),
                                    thickness=12))
    elif kind == "metric":
        vals = [float(((data.trials[i].user_attrs.get("metrics") or {}).get("overall") or {})
                      .get(label, np.nan)) for i in par]
        marker.update(color=vals, colorscale="Viridis", reversescale=True, showscale=True,
                      colorbar=dict(title=dict(text=axis_title(label), side="right"),
                                    thickness=12))
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
    xlab = (axis_title(data.metric_names[data.area_index]) if data.area_index is not None
            else axis_title("area_mm2"))
    # zoom to the SLO-area trade-off curve (with a third objective many more designs are
    # Pareto-optimal, spread over the whole area range)
    zoom = _front_box(area[line], slo[line]) if len(line) > 1 else _front_box(area[par],
                                                                              slo[par])
    menus = [dict(type="buttons", direction="left", x=1.0, xanchor="right", y=1.12,
                  yanchor="bottom", showactive=True, buttons=[
                      dict(label="show dominated", method="restyle",
                           args=[{"visible": True}, [0]]),
                      dict(label="hide dominated", method="restyle",
                           args=[{"visible": "legendonly"}, [0]])])]
    axes = {}
    if zoom is not None:
        (x0, x1), (y0, y1) = zoom
        axes = dict(xaxis_range=[x0, x1], yaxis_range=[y0, y1])
        menus.append(dict(type="buttons", direction="left", x=0.62, xanchor="right", y=1.12,
                          yanchor="bottom", showactive=True, active=0, buttons=[
                              dict(label="zoom: front", method="relayout",
                                   args=[{"xaxis.range": [x0, x1], "yaxis.range": [y0, y1]}]),
                              dict(label="all trials", method="relayout",
                                   args=[{"xaxis.autorange": True,
                                          "yaxis.autorange": True}])]))
    _layout(fig, height=460, xaxis_title=xlab, yaxis_title=axis_title(data.metric_names[si]),
            hoverlabel=dict(bgcolor="white", font=dict(size=11), align="left"),
            updatemenus=menus, **axes)
    if knee is not None and knee in set(numbers[par].tolist()):
        i = int(np.flatnonzero(numbers == knee)[0])
        fig.add_annotation(x=float(area[i]), y=float(slo[i]), text=f"knee (trial {knee})",
                           showarrow=True, arrowhead=2, ax=60, ay=40,
                           font=dict(size=11, color="#111827"), bgcolor="white",
                           bordercolor="#9ca3af", borderwidth=1)
    return fig


def _front_box(x: np.ndarray, y: np.ndarray, pad: float = 0.08):
    """Axis ranges that frame the Pareto designs (``pad`` of each span on both sides;
    a zero span gets 5% of the value, or 0.05), or ``None`` without a front."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    out = []
    for v in (x[ok], y[ok]):
        lo, hi = float(v.min()), float(v.max())
        span = hi - lo if hi > lo else max(abs(hi) * 0.05, 0.05)
        out.append((lo - pad * span, hi + pad * span))
    return tuple(out)


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


def _numeric_axis(label: str, vals, dist) -> dict | None:
    """A numeric parallel-coordinates axis (``None`` when the values do not vary); a log
    range is drawn on log10 values with ticks labelled in the parameter's own values."""
    arr = np.asarray(vals, dtype=np.float64)
    if len(arr) == 0 or np.all(arr == arr[0]):
        return None
    if not getattr(dist, "log", False) or np.any(arr <= 0):
        return dict(label=label, values=arr.tolist())
    z = np.log10(arr)
    lo, hi = math.floor(z.min()), math.ceil(z.max())
    ticks = [d + math.log10(k) for d in range(lo, hi + 1) for k in (1, 2, 5)]
    ticks = [t for t in ticks if z.min() - 1e-9 <= t <= z.max() + 1e-9] or [z.min(), z.max()]
    return dict(label=f"{label} (log)", values=z.tolist(), tickvals=ticks,
                ticktext=[f"{10 ** t:.3g}" for t in ticks])


def _category_axis(label: str, vals) -> dict | None:
    labels = [str(v) for v in vals]
    cats = sorted(set(labels), key=_category_key)
    if len(cats) < 2:
        return None
    code = {c: j for j, c in enumerate(cats)}
    return dict(label=label, values=[code[x] for x in labels],
                tickvals=list(range(len(cats))), ticktext=cats)


def parallel_views(data: StudyData) -> list[tuple[str, list[int], list[str]]]:
    """``(title, trial rows, parameter names)`` of each parallel-coordinates view: every
    complete trial with the parameters all trials share, then, when the policy is
    searched, one view per policy with its own (conditional) parameters."""
    trials = data.trials
    names: list[str] = []
    for t in trials:
        names += [k for k in t.params if k not in names]
    shared = [k for k in names if all(k in t.params for t in trials)]
    views = [("all trials", list(range(len(trials))), shared)]
    policies = sorted({str(t.user_attrs.get("policy", "?")) for t in trials})
    if "policy" in shared and len(policies) > 1:
        for p in policies:
            rows = [i for i, t in enumerate(trials) if str(t.user_attrs.get("policy")) == p]
            own = [k for k in names if all(k in trials[i].params for i in rows)
                   and k != "policy"]
            views.append((f"policy {p}", rows, own))
    return views


def parallel_figure(data: StudyData) -> go.Figure | None:
    """Searched parameters and objectives of complete trials as parallel coordinates:
    numeric parameters on numeric axes (log ranges on a log axis), categorical ones as
    labelled axes; with a searched policy, a drop-down shows each policy's trials with
    its own parameters (they are conditional on it)."""
    trials = data.trials
    if len(trials) < 2:
        return None
    fig = go.Figure()
    si = data.slo_index
    buttons = []
    views = [v for v in parallel_views(data) if len(v[1]) >= 2]
    for j, (title, rows, params) in enumerate(views):
        dims = []
        for k in params:
            dist = next(trials[i].distributions[k] for i in rows)
            vals = [trials[i].params[k] for i in rows]
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                dim = _category_axis(k, vals)
            else:
                dim = _numeric_axis(k, vals, dist)
            if dim is not None:
                dims.append(dim)
        for m, name in enumerate(data.metric_names):
            dims.append(dict(label=axis_title(name, short=True),
                             values=data.values[rows, m].tolist()))
        fig.add_trace(go.Parcoords(
            visible=j == 0, name=title, dimensions=dims, labelangle=-20, labelside="top",
            line=dict(color=data.values[rows, si], colorscale="Viridis",
                      reversescale=data.directions[si] == "minimize", showscale=True,
                      cmin=float(np.nanmin(data.values[:, si])),
                      cmax=float(np.nanmax(data.values[:, si])),
                      colorbar=dict(title=dict(text=axis_title(data.metric_names[si]),
                                               side="right"), thickness=12))))
        buttons.append(dict(label=f"{title} ({len(rows)})", method="restyle",
                            args=[{"visible": [i == j for i in range(len(views))]}]))
    menus = [dict(type="dropdown", x=0.0, xanchor="left", y=1.18, yanchor="bottom",
                  buttons=buttons, active=0)] if len(views) > 1 else []
    return _layout(fig, height=460, margin=dict(l=70, r=70, t=110, b=30), updatemenus=menus)


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
