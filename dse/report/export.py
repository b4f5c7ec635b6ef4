"""Export one design from a study to a design file (TOML or JSON), or every trial to a table.

A design file (schema version 1) holds::

    schema_version = 1
    [npu]         every NpuDesign field (cost-model names)
    [policy]      name = "...", then the policy parameters
    [scenario]    the study's scenario, inline (Scenario.to_dict())
    [metrics]     the metrics stored with the trial
    [area_mm2]    the stored area breakdown (mm2, with `total`)
    [provenance]  dse_version, spec_hash, seed, trial, study, requests, objectives

Design files are plain TOML/JSON, never pickle.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING

from dse.common import InputError
from dse.common.files import atomic_write, atomic_write_text, check_output
from dse.report import _toml

if TYPE_CHECKING:  # reading a design file (SCHEMA_VERSION) imports neither
    import pandas as pd

    from dse.report._study import StudyData

SCHEMA_VERSION = 1
DESIGN_SUFFIXES = (".toml", ".json")


def _clean(value):
    """Plain-Python copy of a stored attr (numpy scalars -> Python, tuples -> lists)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _drop_none(value):
    """What survives a TOML round trip: ``None`` entries removed."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


def _fidelity(fidelity) -> dict:
    """The spec's fidelity as a plain dict (every field of ``dse.spec.Fidelity``)."""
    if fidelity is None:
        return {}
    if dataclasses.is_dataclass(fidelity):
        fidelity = dataclasses.asdict(fidelity)
    return {str(k): _clean(v) for k, v in dict(fidelity).items()}


def _scenario_dict(scenario) -> dict:
    if scenario is None:
        return {}
    if isinstance(scenario, dict):
        return _clean(scenario)
    return _clean(scenario.to_dict())


def design_record(data: StudyData, trial, *, spec=None, scenario=None, fidelity=None,
                  needed=None) -> dict:
    """The design-file mapping for one complete trial of ``data``.

    ``spec`` (a StudySpec) supplies the scenario, the fidelity (trace length, replications,
    warm-up, satisfaction sweep) and the metrics the study needed; ``scenario``,
    ``fidelity`` and ``needed`` override it.  The recorded trace length is the trial's
    ``requests`` user attr, else ``fidelity.requests``.
    """
    if spec is not None:
        scenario = spec.scenario if scenario is None else scenario
        fidelity = spec.fidelity if fidelity is None else fidelity
        needed = sorted(spec.needed_metrics()) if needed is None else needed
    ua = trial.user_attrs
    if scenario is not None:  # searched exit thresholds are part of the design
        from dse.evaluation import trial_scenario

        scenario = trial_scenario(scenario, ua.get("exit_thresholds"))
    missing = [k for k in ("npu", "policy", "metrics") if k not in ua]
    if missing:
        raise InputError(f"trial {trial.number} lacks stored user attrs {', '.join(missing)} "
                         "(was it written by `dse run`?)", source=f"study '{data.name}'",
                         field="trial")
    sattrs = data.user_attrs
    fid = _fidelity(fidelity)
    n_req = ua.get("requests", fid.get("requests", sattrs.get("requests")))
    provenance = {
        "dse_version": str(sattrs.get("dse_version", "")),
        "spec_hash": str(sattrs.get("spec_hash", "")),
        "seed": sattrs.get("seed"),
        "trial": int(trial.number),
        "study": data.name,
        "requests": None if n_req is None else int(n_req),
        "needed": list(needed) if needed is not None else None,
        "objectives": [f"{n}:{d}" for n, d in zip(data.metric_names, data.directions,
                                                   strict=True)],
        "values": [float(v) for v in trial.values],
    }
    if trial.datetime_complete is not None:
        provenance["completed"] = trial.datetime_complete.isoformat(timespec="seconds")
    if fid:
        provenance["fidelity"] = fid
    policy = {"name": str(ua["policy"])}
    for k, v in (ua.get("policy_params") or {}).items():
        if k == "name":
            raise InputError("policy parameter may not be called 'name'", field="policy_params")
        policy[k] = _clean(v)
    record = {
        "schema_version": SCHEMA_VERSION,
        "npu": _clean(ua["npu"]),
        "policy": policy,
        "scenario": _scenario_dict(scenario),
        "metrics": _clean(ua["metrics"]),
        "area_mm2": _clean(ua.get("area_mm2") or {}),
        "provenance": provenance,
    }
    return _drop_none(record)


def check_out_path(path: str, suffixes: tuple[str, ...], field: str = "path") -> str:
    """The lower-case extension of an output ``path`` (one of ``suffixes``) that can be
    written (:func:`dse.common.files.check_output`)."""
    check_output(path, field=field)
    ext = os.path.splitext(path)[1].lower()
    if ext not in suffixes:
        raise InputError(f"cannot tell the format of '{path}' from its extension",
                         field=field, allowed=", ".join(suffixes))
    return ext


def dumps_design(record: dict, fmt: str) -> str:
    """Serialise a design record as ``"toml"`` or ``"json"`` text."""
    if fmt == "toml":
        return _toml.dumps(record)
    # Python's json writes inf/nan as Infinity/NaN, which it also reads back exactly.
    return json.dumps(record, indent=2, allow_nan=True) + "\n"


def write_design(record: dict, path: str) -> str:
    """Write a design record to ``path`` (``.toml`` or ``.json``); returns the path."""
    ext = check_out_path(path, DESIGN_SUFFIXES)
    text = dumps_design(record, "toml" if ext == ".toml" else "json")
    return atomic_write_text(path, text, field="path")


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = json.dumps(_clean(list(value)))
    else:
        out[prefix] = _clean(value)


def trials_frame(study) -> pd.DataFrame:
    """Every trial of ``study`` (any state) as one row: values, params, design, metrics.

    Columns: ``number, state, feasible, pareto`` (complete trials only), one column per
    objective (its metric name), ``params.*``, ``npu.*``, ``policy``, ``policy_params.*``,
    ``metrics.*`` (nested keys joined with dots), ``area_mm2.*``, ``datetime_start``,
    ``datetime_complete``, ``duration_s``.
    """
    import pandas as pd

    from dse.report._study import read_study

    data = read_study(study)
    feas = {t.number: bool(f) for t, f in zip(data.trials, data.feasible, strict=True)}
    par = {t.number: bool(p) for t, p in zip(data.trials, data.pareto, strict=True)}
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict = {"number": t.number, "state": t.state.name,
                     "feasible": feas.get(t.number), "pareto": par.get(t.number, False)}
        for name, v in zip(data.metric_names, t.values or [None] * len(data.metric_names),
                           strict=True):
            row[name] = v
        for k, v in t.params.items():
            row[f"params.{k}"] = v if not isinstance(v, (list, tuple)) else json.dumps(list(v))
        ua = t.user_attrs
        _flatten("npu", ua.get("npu", {}), row)
        row["policy"] = ua.get("policy")
        _flatten("policy_params", ua.get("policy_params", {}), row)
        _flatten("metrics", ua.get("metrics", {}), row)
        _flatten("area_mm2", ua.get("area_mm2", {}), row)
        for k in ("requests",):
            if k in ua:
                row[k] = ua[k]
        row["datetime_start"] = t.datetime_start
        row["datetime_complete"] = t.datetime_complete
        row["duration_s"] = (t.duration.total_seconds() if t.duration is not None else None)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = frame.sort_values("number").reset_index(drop=True)
    return frame


def write_trials(study, path: str) -> pd.DataFrame:
    """Write every trial to ``path`` (``.csv`` or ``.parquet``); returns the table."""
    ext = check_out_path(path, (".csv", ".parquet"))
    frame = trials_frame(study)
    if ext == ".csv":
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False), field="path")
        return frame
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise InputError("writing parquet needs pyarrow (pip install 'dse[parquet]')",
                         field="path") from exc
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False), field="path")
    return frame
