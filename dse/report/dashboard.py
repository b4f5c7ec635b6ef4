"""One self-contained HTML dashboard of a study (plotly.js embedded; works offline).

Sections: the Pareto front (SLO objective vs area; Pareto trials coloured by a third
objective, or by policy when there are two objectives; hover shows the whole design;
dominated trials toggle), the hypervolume history, parallel coordinates of the searched
parameters vs the objectives, PED-ANOVA parameter importances, and a design explorer: a
drop-down of Pareto designs (also selected by clicking a Pareto point) showing the
design's stored metrics, latency CDF per stream, per-layer latency and utilisation, area
breakdown and batching-mode table.  Per-design detail comes from re-simulating the design
on the study's own trace (same scenario, trace length and seed), so it matches the stored
metrics.  At most ``max_designs`` Pareto designs get detail (evenly spread along area,
always including both extremes and the knee).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json

import numpy as np
import optuna
import plotly
import plotly.io as pio

from dse.report import _design_figures as D
from dse.report import _figures as F
from dse.report._study import StudyData, read_study, trial_area

_CONFIG = {"displaylogo": False, "responsive": True,
           "toImageButtonOptions": {"format": "png", "scale": 2}}


def _plain(obj):
    """Replace plotly's base64 typed arrays (``{dtype, bdata, shape}``) by plain lists."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            if "shape" in obj:
                shape = obj["shape"]
                shape = [int(x) for x in shape.split(",")] if isinstance(shape, str) else shape
                arr = arr.reshape(shape)
            return arr.tolist()
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _fig_json(fig) -> dict | None:
    """A figure as plain JSON data (lists, trace uids kept) for ``Plotly.react``."""
    if fig is None:
        return None
    return _plain(json.loads(pio.to_json(fig, validate=False, remove_uids=False)))


def detail_targets(data: StudyData, max_designs: int) -> list[int]:
    """Rows of the Pareto designs that get a detail section, sorted by area."""
    from dse.report._pick import pick

    par = np.flatnonzero(data.pareto)
    if len(par) == 0:
        return []
    area = trial_area(data)
    par = par[np.lexsort((data.numbers[par], area[par]))]
    if len(par) <= max_designs:
        return [int(i) for i in par]
    chosen = set(int(par[int(round(j))]) for j in np.linspace(0, len(par) - 1, max_designs - 1))
    try:
        knee = pick(data, rule="knee")
        chosen.add(next(i for i, t in enumerate(data.trials) if t.number == knee.number))
    except Exception:  # noqa: BLE001 - knee is a convenience here
        pass
    return sorted(chosen, key=lambda i: (area[i], data.trials[i].number))


def design_detail(trial, scenario, *, n_requests: int, seed: int, warmup: float = 0.1) -> dict:
    """Figures for one design: CDF, per-layer latency/utilisation, area, mode tables."""
    from cost_models import NpuDesign, area_breakdown
    from dse.evaluation import evaluate, isolated_ms, trial_scenario
    from workloads import get_model

    ua = trial.user_attrs
    npu = NpuDesign.from_dict(dict(ua["npu"]), source=f"trial {trial.number}")
    scenario = trial_scenario(scenario, ua.get("exit_thresholds"))
    ev = evaluate(npu, scenario, ua["policy"], dict(ua.get("policy_params") or {}),
                      n_requests=n_requests, seed=seed, warmup=warmup)
    req = ev.requests
    lat = np.asarray(req["completion_ms"], dtype=np.float64) - np.asarray(
        req["arrival_ms"], dtype=np.float64)
    dropped = np.asarray(req["dropped"], dtype=bool)
    stream = np.asarray(req["stream"])
    streams = [s.name for s in scenario.streams]
    slo = np.asarray(scenario.slo_ms(isolated_ms(npu, scenario.models)), dtype=np.float64)
    layer_figs, modes = [], []
    for name, table in ev.tables.items():
        layers = [layer.name for layer in get_model(name).layers]
        ms = np.asarray(table.ms)
        util = np.asarray(table.utilisation)
        bmax = ms.shape[1] - 1
        mean_b = float((ev.metrics.get("overall") or {}).get("mean_batch") or bmax)
        b2 = int(min(bmax, max(2, round(mean_b)))) if bmax >= 2 else bmax
        layer_figs.append(_fig_json(D.layers_figure(name, dict(
            layers=layers, ms_b1=ms[:, 1].tolist(), ms_bmax=ms[:, b2].tolist(),
            util_b1=util[:, 1].tolist(), util_bmax=util[:, b2].tolist(), bmax=b2))))
        modes.append(_fig_json(D.modes_figure(name, layers, np.asarray(table.modes), util)))
    area = ua.get("area_mm2") or area_breakdown(npu)
    return {
        "cdf": _fig_json(D.cdf_figure(lat, stream, streams, slo, dropped)),
        "layers": layer_figs,
        "area": _fig_json(D.area_figure(area)),
        "modes": modes,
        "warnings": list(ev.warnings),
    }


def _objective_label(name: str, direction: str) -> str:
    """``name (min, ms: mean latency)``: direction plus, for a catalogued metric, its unit
    and meaning (``dse.metrics.METRICS``)."""
    from dse.metrics import METRICS

    metric = METRICS.get(name)
    if metric is None:
        return f"{name} ({direction[:3]})"
    unit = f"{metric.unit}: " if metric.unit else ""
    return f"{name} ({direction[:3]}, {unit}{metric.doc})"


def _summary_html(data: StudyData, i: int) -> str:
    t = data.trials[i]
    ua = t.user_attrs
    rows = [("trial", str(t.number))]
    rows += [(n, F._fmt(float(v))) for n, v in zip(data.metric_names, t.values, strict=True)]
    params = ua.get("policy_params") or {}
    rows.append(("policy", html.escape(str(ua.get("policy", "?")))))
    rows += [(f"policy.{k}", F._fmt(v)) for k, v in params.items()]
    rows += [(f"npu.{k}", F._fmt(v)) for k, v in (ua.get("npu") or {}).items()]
    overall = (ua.get("metrics") or {}).get("overall") or {}
    rows += [(f"overall.{k}", F._fmt(v)) for k, v in overall.items()
             if isinstance(v, (int, float))]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{cells}</table>"


_CSS = """
*{box-sizing:border-box} body{margin:0;background:#f3f4f6;color:#1f2937;
font:14px/1.45 Inter,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif}
header{background:#111827;color:#f9fafb;padding:18px 28px}
header h1{margin:0;font-size:20px;font-weight:600} header .sub{color:#9ca3af;font-size:13px}
.stats{display:flex;gap:12px;flex-wrap:wrap;padding:16px 28px 0}
.stat{background:#fff;border-radius:8px;padding:10px 16px;box-shadow:0 1px 2px #0001;
min-width:120px} .stat b{display:block;font-size:20px} .stat span{color:#6b7280;font-size:12px}
main{padding:16px 28px 28px;display:grid;grid-template-columns:1fr 1fr;gap:16px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0001;padding:14px 16px;
min-width:0} .card h2{font-size:15px;margin:0 0 4px;font-weight:600}
.card p.note{color:#6b7280;font-size:12px;margin:0 0 6px}
.wide{grid-column:1 / -1} .empty{color:#6b7280;padding:30px;text-align:center}
select{font:inherit;padding:4px 8px;border-radius:6px;border:1px solid #d1d5db}
table.kv{border-collapse:collapse;font-size:12px;width:100%}
table.kv th{text-align:left;color:#4b5563;font-weight:500;padding:2px 8px 2px 0;
white-space:nowrap} table.kv td{padding:2px 0;font-variant-numeric:tabular-nums}
table.kv tr:nth-child(even){background:#f9fafb}
.detail{display:grid;grid-template-columns:minmax(240px,1fr) 2fr;gap:16px}
.kvbox{max-height:720px;overflow:auto}
footer{color:#6b7280;font-size:12px;padding:0 28px 24px}
@media (max-width:1000px){main{grid-template-columns:1fr} .detail{grid-template-columns:1fr}}
"""

_JS = """
const CFG = __CONFIG__;
function plot(id, fig){ const el = document.getElementById(id);
  if (!el) return; if (!fig){ el.innerHTML = "<div class='empty'>not available</div>"; return; }
  Plotly.react(el, fig.data, fig.layout, CFG); }
for (const [id, fig] of Object.entries(FIGS)) { if (fig) plot(id, fig); }
function showDesign(num){
  const d = DETAIL[num]; const sel = document.getElementById('design-select');
  if (!d) return; sel.value = String(num);
  document.getElementById('design-summary').innerHTML = d.summary;
  const err = document.getElementById('design-error');
  const msg = [d.error].concat(d.warnings || []).filter(Boolean).join(' · ');
  err.textContent = msg; err.style.display = msg ? 'block' : 'none';
  plot('design-cdf', d.cdf); plot('design-area', d.area);
  for (const key of ['layers', 'modes']) {
    const box = document.getElementById('design-' + key); box.innerHTML = '';
    (d[key] || []).forEach((f, i) => { const div = document.createElement('div');
      div.id = 'design-' + key + '-' + i; box.appendChild(div); plot(div.id, f); }); }
}
const sel = document.getElementById('design-select');
if (sel) { sel.addEventListener('change', e => showDesign(e.target.value));
  if (sel.value) showDesign(sel.value); }
const pareto = document.getElementById('pareto');
if (pareto && pareto.on) pareto.on('plotly_click', ev => {
  const p = ev.points[0]; if (p && p.customdata !== undefined && DETAIL[p.customdata]) {
    showDesign(p.customdata); document.getElementById('design-card').scrollIntoView(
      {behavior: 'smooth'}); } });
"""

_LIVE_JS = """
let VERSION = __VERSION__;
setInterval(() => fetch('version.json', {cache: 'no-store'}).then(r => r.json()).then(v => {
  if (v.version !== VERSION) location.reload(); }).catch(() => {}), __PERIOD__);
"""


def _script_json(obj) -> str:
    text = json.dumps(obj, cls=plotly.utils.PlotlyJSONEncoder, allow_nan=False,
                      separators=(",", ":")) if obj is not None else "null"
    return text.replace("</", "<\\/")


def _nan_to_none(obj):
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


def build_dashboard(study: optuna.Study, *, scenario=None, fidelity=None, seed=None,
                    max_designs: int = 12, title: str | None = None,
                    live_version: str | None = None, live_period_ms: int = 5000,
                    detail_cache: dict | None = None, on_progress=None) -> str:
    """The dashboard HTML (a complete, self-contained document) of ``study``.

    ``scenario``/``fidelity``/``seed`` (from the spec) enable per-design detail; without a
    scenario the design explorer shows stored metrics only.  ``live_version`` makes the
    page poll ``version.json`` and reload when the served study changes (``--serve``).
    ``detail_cache`` (trial number -> detail) lets a server re-simulate each design once.
    ``on_progress(done, total)`` is called after each step (figures, each design).
    """
    data = read_study(study)
    targets = detail_targets(data, max_designs)
    total, done = 2 + len(targets), 0

    def step():
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)
    n = len(data.trials)
    figs = {"pareto": None, "hv": None, "parallel": None, "importance": None}
    imp_note = None
    try:
        from dse.report._pick import pick

        knee = pick(data, rule="knee").number if data.feasible.any() else None
    except Exception:  # noqa: BLE001 - no knee (e.g. no area) is not an error here
        knee = None
    if n:
        figs["pareto"] = _fig_json(F.pareto_figure(data, knee=knee))
        figs["hv"] = _fig_json(F.hypervolume_figure(data))
        figs["parallel"] = _fig_json(F.parallel_figure(data))
        step()
        imp, imp_note = F.importances(study, data)
        if imp:
            figs["importance"] = _fig_json(F.importance_figure(imp))
    else:
        imp_note = "no complete trials yet"
        step()
    step()
    requests = None
    fid = fidelity if isinstance(fidelity, dict) else (
        {k: getattr(fidelity, k) for k in ("requests", "replications", "warmup")
         if hasattr(fidelity, k)} if fidelity is not None else {})
    if seed is None:
        seed = data.user_attrs.get("seed")
    detail: dict = {}
    options = []
    for i in targets:
        t = data.trials[i]
        entry = {"summary": _summary_html(data, i)}
        requests = t.user_attrs.get("requests", fid.get("requests"))
        if scenario is None or requests is None or seed is None:
            entry["error"] = "per-design detail needs the study's scenario, trace length and seed"
        elif detail_cache is not None and t.number in detail_cache:
            entry.update(detail_cache[t.number])
        else:
            try:
                entry.update(design_detail(t, scenario, n_requests=int(requests),
                                           seed=int(seed), warmup=float(fid.get("warmup", 0.1))))
                if detail_cache is not None:
                    detail_cache[t.number] = {k: v for k, v in entry.items() if k != "summary"}
            except Exception as exc:  # noqa: BLE001 - show the failure in its section
                entry["error"] = f"detail unavailable: {type(exc).__name__}: {exc}"
        detail[str(t.number)] = entry
        area = float(trial_area(data)[i])
        label = (f"trial {t.number}: {data.metric_names[data.slo_index]} = "
                 f"{float(t.values[data.slo_index]):.4g}, area = {area:.4g} mm2, "
                 f"{t.user_attrs.get('policy', '?')}")
        options.append((t.number, label))
        step()
    default = knee if knee is not None and str(knee) in detail else (
        options[0][0] if options else None)
    hv_now = float(F.hypervolume_history(data)[1][-1]) if n else 0.0
    name = title or data.name
    counts = data.counts
    stats = [("complete", counts.get("COMPLETE", 0)), ("pruned", counts.get("PRUNED", 0)),
             ("failed", counts.get("FAIL", 0)), ("running", counts.get("RUNNING", 0)),
             ("feasible", int(data.feasible.sum())), ("Pareto designs", int(data.pareto.sum())),
             ("hypervolume", f"{hv_now:.4f}"),
             ("knee trial", knee if knee is not None else "-")]
    stat_html = "".join(f"<div class='stat'><b>{html.escape(str(v))}</b><span>{k}</span></div>"
                        for k, v in stats)
    objectives = ", ".join(_objective_label(n, d) for n, d in zip(data.metric_names,
                                                                  data.directions, strict=True))
    attrs = data.user_attrs
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = (f"objectives: {html.escape(objectives)} · seed {html.escape(str(attrs.get('seed', '?')))}"
           f" · spec {html.escape(str(attrs.get('spec_hash', '?'))[:12])}"
           f" · dse {html.escape(str(attrs.get('dse_version', '?')))}")
    opts = "".join(f"<option value='{num}'{' selected' if num == default else ''}>"
                   f"{html.escape(label)}{' (knee)' if num == knee else ''}</option>"
                   for num, label in options)
    colour_note = f"colour: {F.colour_rule(data)[1]}" if n else ""

    def card(id_, title_, note, wide=False):
        empty = "" if figs.get(id_) else f"<div class='empty'>{html.escape(note_empty(id_))}</div>"
        return (f"<section class='card{' wide' if wide else ''}'><h2>{title_}</h2>"
                f"<p class='note'>{note}</p><div id='{id_}'>{empty}</div></section>")

    def note_empty(id_):
        if id_ == "importance" and imp_note:
            return imp_note
        return "no complete trials yet" if n == 0 else "not enough trials for this view"

    design_card = (
        "<section class='card wide' id='design-card'><h2>Design explorer</h2>"
        "<p class='note'>Pick a Pareto design (or click a point of the front). Detail is "
        "re-simulated on the study's own trace.</p>"
        + (f"<p><select id='design-select'>{opts}</select></p>"
           "<p id='design-error' class='note' style='display:none;color:#b91c1c'></p>"
           "<div class='detail'><div class='kvbox' id='design-summary'></div><div>"
           "<h2>Latency CDF per stream</h2><p class='note'>dotted: the stream's SLO; a "
           "curve ending below 1 has dropped requests</p><div id='design-cdf'></div>"
           "<h2>Per-layer latency and utilisation</h2><div id='design-layers'></div>"
           "<h2>Area breakdown</h2><div id='design-area'></div></div></div>"
           "<h2>Batching-mode table (Fluid Batching Engine lookup)</h2><p class='note'>"
           "cell: B_R·B_P·k chosen by the cost model per layer and batch size; colour: MAC "
           "utilisation</p><div id='design-modes'></div>"
           if options else "<div class='empty'>no feasible Pareto design yet</div>")
        + "</section>")
    body = (
        f"<header><h1>{html.escape(name)} · Pareto dashboard</h1>"
        f"<div class='sub'>{sub}</div></header><div class='stats'>{stat_html}</div><main>"
        + card("pareto", "Pareto front", f"{html.escape(colour_note)}; hover for the whole "
               "design; click a Pareto point to open it below; legend or buttons toggle "
               "dominated trials", wide=True)
        + card("hv", "Hypervolume history", "share of the reference box dominated by the "
               "feasible trials so far; objectives scaled to [0, 1] over feasible trials "
               "(best = 0), reference point 1.1 (as in dse status)")
        + card("importance", "Parameter importances", "PED-ANOVA (Optuna): how much each searched "
               "parameter matters for reaching the top 10% of trials, per objective and for "
               "the Pareto front")
        + card("parallel", "Parameters vs objectives", "drag along an axis to filter",
               wide=True)
        + design_card + "</main>"
        f"<footer>Generated {generated} from study '{html.escape(data.name)}' "
        f"({n} complete trials). Interactive; works offline.</footer>")
    figs_js = _script_json(_nan_to_none(figs))
    detail_js = _script_json(_nan_to_none(detail))
    script = (f"const FIGS = {figs_js};\nconst DETAIL = {detail_js};\n"
              + _JS.replace("__CONFIG__", json.dumps(_CONFIG)))
    if live_version is not None:
        script += (_LIVE_JS.replace("__VERSION__", json.dumps(live_version))
                   .replace("__PERIOD__", str(int(live_period_ms))))
    plotly_js = plotly.offline.get_plotlyjs()
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(name)} · dse dashboard</title><style>{_CSS}</style>"
            f"<script>{plotly_js}</script></head><body>{body}"
            f"<script>{script}</script></body></html>")


def write_dashboard(study: optuna.Study, path: str, **kwargs) -> str:
    """Write :func:`build_dashboard` output to ``path`` atomically; returns the path."""
    from dse.common.files import atomic_write_text
    from dse.report.export import check_out_path

    check_out_path(path, (".html", ".htm"))
    return atomic_write_text(path, build_dashboard(study, **kwargs), field="path")
