"""Study specs: a TOML file describing one Optuna multi-objective study, validated.

A spec has four tables (see ``docs/studies.md`` for the full reference):

* ``[study]``: ``name``, ``storage`` (URL; default a SQLite file ``study.db`` in the
  results directory), ``results_dir`` (default ``results/<name>`` next to the spec),
  ``sampler`` (``nsga2`` | ``tpe`` | ``gp`` | ``random`` | ``grid``), ``sampler_options``,
  ``n_trials`` (total complete trials to reach), ``timeout`` (seconds per run), ``seed``,
  ``objectives`` (``[{metric, direction}]``) and ``[study.constraints]``
  (``max_<metric>`` / ``min_<metric>`` bounds, e.g. ``max_area_mm2 = 4.0``).
* ``[scenario]``: inline (as in ``workloads.Scenario``) or ``{file = "path.toml"}``.
* ``[fidelity]``: ``requests`` per trial, ``replications``, ``warmup``, and the
  multi-fidelity short trace (``short_requests``, ``prune_after``, ``prune_margin``).
* ``[space.npu]`` and ``[space.policy]``: every ``NpuDesign`` field and every policy
  parameter is fixed (a scalar), categorical (a list) or a range
  ``{low, high, step, log}``; ``space.policy.name`` is one policy or a list, and each
  policy's parameters live in ``[space.policy.<name>]`` (conditional on that policy).

Every mistake raises :class:`InputError` naming the file, the TOML path and the allowed
values.  Nothing here touches a storage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import random
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dse.common import InputError, check_keys, did_you_mean

SAMPLER_NAMES = ("nsga2", "tpe", "gp", "random", "grid")
SAMPLER_OPTIONS = {
    "nsga2": ("population_size", "local_search_prob", "mutation_prob", "crossover_prob",
              "swapping_prob"),
    "tpe": ("n_startup_trials", "n_ei_candidates", "multivariate"),
    "gp": ("n_startup_trials",),
    "random": (),
    "grid": (),
}


@dataclass(frozen=True)
class MetricDef:
    """An objective/constraint metric: where it comes from and how it behaves.

    ``exact`` metrics (area) do not depend on the simulated trace, so the short trace of
    multi-fidelity search gives their final value.
    """

    doc: str
    unit: str
    exact: bool = False


#: Metrics a study may optimise or constrain (all read from ``Evaluation.metrics``;
#: ``*_slo_satisfaction`` run the paper-style sweep of ``dse.metrics.slo_satisfaction``).
METRICS: dict[str, MetricDef] = {
    "slo_attainment": MetricDef("share of requests within their stream's SLO", ""),
    "avg_slo_satisfaction": MetricDef(
        "share of (load, SLO) points whose mean latency meets the SLO", ""),
    "tail_slo_satisfaction": MetricDef(
        "share of (load, SLO) points whose p95 latency meets the SLO", ""),
    "area_mm2": MetricDef("chip area", "mm2", exact=True),
    "energy_uj_per_request": MetricDef("NPU + DRAM energy per request", "uJ"),
    "accuracy": MetricDef("exit-weighted accuracy", ""),
    "mean_latency_ms": MetricDef("mean latency", "ms"),
    "p50_latency_ms": MetricDef("median latency", "ms"),
    "p95_latency_ms": MetricDef("95th percentile latency", "ms"),
    "p99_latency_ms": MetricDef("99th percentile latency", "ms"),
    "throughput_rps": MetricDef("completed requests per second", "1/s"),
    "goodput_rps": MetricDef("requests within SLO per second", "1/s"),
    "utilisation": MetricDef("NPU MAC utilisation", ""),
    "mean_batch": MetricDef("mean batch size", ""),
}
DIRECTIONS = ("maximize", "minimize")

_STUDY_KEYS = ("name", "storage", "results_dir", "sampler", "sampler_options", "n_trials",
               "timeout", "seed", "objectives", "constraints")
_FIDELITY_KEYS = ("requests", "replications", "warmup", "short_requests", "prune_after",
                  "prune_margin", "satisfaction_loads", "satisfaction_slo_x")
_RANGE_KEYS = ("low", "high", "step", "log")


# --------------------------------------------------------------------------- dimensions
@dataclass(frozen=True)
class Dim:
    """One search dimension.

    kind: ``fixed`` (``values == (v,)``), ``choice`` (categorical ``values``), ``int`` or
    ``float`` (range ``low..high`` with optional ``step`` and ``log``).
    """

    kind: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    def candidates(self, limit: int = 4096) -> list | None:
        """Every value of a finite dimension (None when continuous or above ``limit``)."""
        if self.kind in ("fixed", "choice"):
            return list(self.values)
        if self.kind == "int":
            step = int(self.step or 1)
            n = (int(self.high) - int(self.low)) // step + 1
            return list(range(int(self.low), int(self.high) + 1, step)) if n <= limit else None
        if self.step is None:
            return None
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        if n > limit:
            return None
        return [float(self.low + i * self.step) for i in range(n)]

    def canonical(self) -> dict:
        return {"kind": self.kind, "values": list(self.values), "low": self.low,
                "high": self.high, "step": self.step, "log": self.log}


@dataclass(frozen=True)
class Space:
    """The search space: NPU fields, the policy (name) and per-policy parameters."""

    npu: dict[str, Dim]
    policy: Dim
    params: dict[str, dict[str, Dim]]
    exits: dict[str, dict[str, Dim]] = field(default_factory=dict)
    """Searched exit thresholds: stream -> ``{"threshold": Dim}`` (one threshold for every
    exit) or ``{"exit0": Dim, "exit1": ...}`` (one per exit but the last)."""
    thresholds_per_stream: dict[str, int] = field(default_factory=dict)
    """Number of thresholds (exits but the last) of each stream in ``exits``."""

    def canonical(self) -> dict:
        out = {"npu": {k: d.canonical() for k, d in self.npu.items()},
               "policy": self.policy.canonical(),
               "params": {p: {k: d.canonical() for k, d in ps.items()}
                          for p, ps in self.params.items()}}
        if self.exits:  # only when used: older specs keep their hash
            out["exits"] = {s: {k: d.canonical() for k, d in ds.items()}
                            for s, ds in self.exits.items()}
        return out

    def grid(self, source: str = "<spec>") -> dict[str, list]:
        """The Optuna ``GridSampler`` search space (param name -> values).

        Conditional policy parameters must be fixed when more than one policy is searched
        (a grid cannot hold conditional dimensions).
        """
        def values(dim: Dim, field: str) -> list:
            found = dim.candidates(limit=100_000)
            if found is None:
                raise InputError("the grid sampler needs a list or a range with a step",
                                 source=source, field=field)
            return [encode_choice(v) for v in found]

        out: dict[str, list] = {}
        for name, dim in self.npu.items():
            if dim.kind != "fixed":
                out[name] = values(dim, f"space.npu.{name}")
        if self.policy.kind == "choice":
            out["policy"] = list(self.policy.values)
        for pol, dims in self.params.items():
            for pname, dim in dims.items():
                if dim.kind == "fixed":
                    continue
                if self.policy.kind == "choice":
                    raise InputError("the grid sampler cannot search parameters that are "
                                     "conditional on a searched policy; fix them or search "
                                     "one policy", source=source,
                                     field=f"space.policy.{pol}.{pname}")
                out[f"{pol}.{pname}"] = values(dim, f"space.policy.{pol}.{pname}")
        for stream, dims in self.exits.items():
            for key, dim in dims.items():
                if dim.kind != "fixed":
                    out[f"exits.{stream}.{key}"] = values(dim, f"space.exits.{stream}.{key}")
        return out


def encode_choice(value):
    """Optuna categorical choices must be scalars: lists become ``"1,2,4"``."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return value


def decode_choice(value):
    if isinstance(value, str) and value and all(p.strip().lstrip("-").isdigit()
                                                for p in value.split(",")):
        return [int(p) for p in value.split(",")]
    return value


@dataclass(frozen=True)
class Constraint:
    """``metric`` must stay ``<= bound`` (kind ``max``) or ``>= bound`` (kind ``min``)."""

    name: str
    metric: str
    kind: str
    bound: float

    def violation(self, value: float) -> float:
        """Optuna convention: <= 0 means satisfied (in the metric's unit)."""
        return value - self.bound if self.kind == "max" else self.bound - value


@dataclass(frozen=True)
class Fidelity:
    """Simulation effort per trial.

    requests: requests per replication (full fidelity); replications: traces with seeds
    ``seed, seed+1, ...`` averaged; warmup: fraction excluded; short_requests: length of the
    short trace that multi-fidelity search runs first (0 = off); prune_after: complete
    trials needed before pruning starts; prune_margin: optimism granted to short-trace
    values, as a fraction of each objective's observed range; satisfaction_loads and
    satisfaction_slo_x: the sweep of the paper-style ``*_slo_satisfaction`` objectives
    (rate factors x SLOs as multiples of each model's isolated batch-1 latency).
    """

    requests: int = 5000
    replications: int = 1
    warmup: float = 0.1
    short_requests: int = 0
    prune_after: int = 10
    prune_margin: float = 0.05
    satisfaction_loads: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25)
    satisfaction_slo_x: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec (see the module docstring)."""

    name: str
    storage_url: str
    sampler: str
    sampler_options: dict
    n_trials: int | None
    timeout: float | None
    seed: int
    objectives: list[tuple[str, str]]
    constraints: list[Constraint]
    scenario: Any
    fidelity: Fidelity
    space: Space
    results_dir: Path
    spec_hash: str
    source: str = "<spec>"
    text: str = ""
    storage_is_default: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def metric_names(self) -> list[str]:
        return [m for m, _ in self.objectives]

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    def needed_metrics(self) -> set[str]:
        return set(self.metric_names) | {c.metric for c in self.constraints}


# --------------------------------------------------------------------------- helpers
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_sampler_options(options: dict, source: str) -> None:
    """Types and ranges of ``study.sampler_options`` (names are checked before)."""
    p = "study.sampler_options."
    for key, value in options.items():
        if key.endswith("_prob"):
            _num(options, key, source, p, low=0.0, high=1.0)
        elif key == "multivariate":
            if not isinstance(value, bool):
                raise InputError(f"expected true or false, got {value!r}", source=source,
                                 field=p + key)
        else:  # population_size, n_startup_trials, n_ei_candidates
            _int(options, key, source, p, low={"population_size": 2,
                                               "n_ei_candidates": 1}.get(key, 0))


def _int(table, key, source, prefix, *, default=None, low=None):
    if key not in table:
        return default
    v = table[key]
    if not _is_int(v):
        raise InputError(f"expected an integer, got {v!r}", source=source, field=prefix + key)
    if low is not None and v < low:
        raise InputError(f"must be >= {low}, got {v}", source=source, field=prefix + key)
    return v


def _num(table, key, source, prefix, *, default=None, low=None, high=None, strict_low=False):
    if key not in table:
        return default
    v = table[key]
    if not _is_num(v) or not math.isfinite(v):
        raise InputError(f"expected a finite number, got {v!r}", source=source,
                         field=prefix + key)
    if low is not None and (v < low or (strict_low and v == low)):
        op = ">" if strict_low else ">="
        raise InputError(f"must be {op} {low}, got {v}", source=source, field=prefix + key)
    if high is not None and v > high:
        raise InputError(f"must be <= {high}, got {v}", source=source, field=prefix + key)
    return float(v)


def _table(value, source, path) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"expected a table, got {value!r}", source=source, field=path)
    return value


def parse_dim(value, *, source: str, path: str, kind: str) -> Dim:
    """Parse one dimension; ``kind`` is the field type: int, float, str, bool or list."""
    if isinstance(value, dict):
        check_keys(value, _RANGE_KEYS, source=source, prefix=path + ".")
        if kind not in ("int", "float"):
            raise InputError(f"a range needs a numeric field, this one is {kind}; use a list",
                             source=source, field=path)
        for key in ("low", "high"):
            if key not in value:
                raise InputError(f"a range needs '{key}'", source=source, field=f"{path}.{key}")
            if not _is_num(value[key]) or not math.isfinite(value[key]):
                raise InputError(f"expected a number, got {value[key]!r}", source=source,
                                 field=f"{path}.{key}")
            if kind == "int" and not _is_int(value[key]):
                raise InputError(f"expected an integer, got {value[key]!r}", source=source,
                                 field=f"{path}.{key}")
        low, high = value["low"], value["high"]
        if low > high:
            raise InputError(f"empty range: low={low} > high={high}", source=source, field=path)
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise InputError(f"expected true or false, got {log!r}", source=source,
                             field=f"{path}.log")
        step = value.get("step")
        if step is not None:
            if not _is_num(step) or step <= 0 or (kind == "int" and not _is_int(step)):
                raise InputError(f"step must be a positive {'integer' if kind == 'int' else 'number'}"
                                 f", got {step!r}", source=source, field=f"{path}.step")
            if log:
                raise InputError("a range cannot have both 'step' and 'log = true'",
                                 source=source, field=path)
            if kind == "int" and (high - low) % step:
                raise InputError(f"high - low = {high - low} is not a multiple of step={step}",
                                 source=source, field=path)
        if log and low <= 0:
            raise InputError(f"a log range needs low > 0, got {low}", source=source,
                             field=f"{path}.low")
        if kind == "int":
            return Dim("int", low=int(low), high=int(high), step=int(step) if step else None,
                       log=log)
        return Dim("float", low=float(low), high=float(high),
                   step=float(step) if step is not None else None, log=log)
    if isinstance(value, list) and kind != "list":
        if not value:
            raise InputError("empty list of choices", source=source, field=path)
        vals = [_check_scalar(v, kind, source, f"{path}[{i}]") for i, v in enumerate(value)]
        if len(set(map(repr, vals))) != len(vals):
            raise InputError("duplicate choices", source=source, field=path)
        return Dim("fixed", (vals[0],)) if len(vals) == 1 else Dim("choice", tuple(vals))
    if kind == "list" and isinstance(value, list) and value and isinstance(value[0], list):
        vals = [_check_scalar(v, kind, source, f"{path}[{i}]") for i, v in enumerate(value)]
        vals = [tuple(sorted(set(v))) for v in vals]
        if len(set(vals)) != len(vals):
            raise InputError("duplicate choices", source=source, field=path)
        return Dim("fixed", (vals[0],)) if len(vals) == 1 else Dim("choice", tuple(vals))
    return Dim("fixed", (_check_scalar(value, kind, source, path),))


def _check_scalar(v, kind, source, path):
    ok = {"int": _is_int(v), "float": _is_num(v), "str": isinstance(v, str),
          "bool": isinstance(v, bool),
          "list": isinstance(v, list) and bool(v) and all(_is_int(x) for x in v)}[kind]
    if not ok:
        want = {"int": "an integer", "float": "a number", "str": "a string",
                "bool": "true or false", "list": "a non-empty list of integers"}[kind]
        raise InputError(f"expected {want}, got {v!r}", source=source, field=path)
    if kind == "float":
        return float(v)
    if kind == "list":
        return tuple(sorted(set(int(x) for x in v)))
    return v


def _npu_kinds() -> dict[str, str]:
    from cost_models import NpuDesign

    kinds = {}
    for f in fields(NpuDesign):
        default = getattr(NpuDesign(), f.name)
        if isinstance(default, bool):
            kinds[f.name] = "bool"
        elif isinstance(default, int):
            kinds[f.name] = "int"
        elif isinstance(default, float):
            kinds[f.name] = "float"
        elif isinstance(default, tuple):
            kinds[f.name] = "list"
        else:
            kinds[f.name] = "str"
    return kinds


def _parse_space(table: dict, source: str) -> Space:
    check_keys(table, ("npu", "policy", "exits"), source=source, prefix="space.")
    npu_table = _table(table.get("npu", {}), source, "space.npu")
    kinds = _npu_kinds()
    check_keys(npu_table, kinds, source=source, prefix="space.npu.")
    npu = {name: parse_dim(v, source=source, path=f"space.npu.{name}", kind=kinds[name])
           for name, v in npu_table.items()}

    from dse.sim import POLICIES

    pol_table = _table(table.get("policy", {}), source, "space.policy")
    names = list(POLICIES)
    check_keys(pol_table, ["name", *names], source=source, prefix="space.policy.")
    raw = pol_table.get("name", "fluid" if "fluid" in POLICIES else names[0])
    choices = raw if isinstance(raw, list) else [raw]
    if not choices:
        raise InputError("empty list of policies", source=source, field="space.policy.name",
                         allowed=names)
    for i, p in enumerate(choices):
        if p not in POLICIES:
            hint = did_you_mean(p, names) if isinstance(p, str) else ""
            raise InputError(f"unknown policy {p!r}{hint}", source=source,
                             field="space.policy.name" + (f"[{i}]" if isinstance(raw, list)
                                                          else ""), allowed=names)
    if len(set(choices)) != len(choices):
        raise InputError("duplicate policies", source=source, field="space.policy.name")
    policy = Dim("fixed", (choices[0],)) if len(choices) == 1 else Dim("choice", tuple(choices))
    params: dict[str, dict[str, Dim]] = {}
    for pol in choices:
        ptable = _table(pol_table.get(pol, {}), source, f"space.policy.{pol}")
        declared = POLICIES[pol].params
        check_keys(ptable, declared, source=source, prefix=f"space.policy.{pol}.")
        dims = {}
        for pname, v in ptable.items():
            decl = declared[pname]
            path = f"space.policy.{pol}.{pname}"
            dim = parse_dim(v, source=source, path=path, kind=decl.kind)
            _check_param_bounds(dim, decl, source, path)
            dims[pname] = dim
        params[pol] = dims
    for pol in pol_table:
        if pol != "name" and pol not in choices:
            raise InputError(f"parameters given for policy '{pol}', which is not searched",
                             source=source, field=f"space.policy.{pol}",
                             allowed=choices)
    return Space(npu=npu, policy=policy, params=params)  # exits: see _parse_exits


def _parse_exits(table: dict, scenario, source: str
                 ) -> tuple[dict[str, dict[str, Dim]], dict[str, int]]:
    """``[space.exits.<stream>]``: ``threshold`` (shared by every exit of the stream) or
    ``exit0 .. exit<E-2>`` (one per exit but the last); confidences in [0, 1]."""
    names = list(scenario.stream_names)
    models = scenario.get_models()
    out: dict[str, dict[str, Dim]] = {}
    counts: dict[str, int] = {}
    for stream, value in table.items():
        prefix = f"space.exits.{stream}"
        if stream not in names:
            raise InputError(f"unknown stream '{stream}'{did_you_mean(stream, names)}",
                             source=source, field=prefix, allowed=names)
        n_exits = len(models[scenario.streams[names.index(stream)].model].exit_layers)
        per_exit = [f"exit{i}" for i in range(n_exits - 1)]
        sub = _table(value, source, prefix)
        check_keys(sub, ["threshold", *per_exit], source=source, prefix=f"{prefix}.")
        if not per_exit:
            raise InputError("the stream's model has a single exit: nothing to search",
                             source=source, field=prefix)
        if "threshold" in sub and len(sub) > 1:
            raise InputError("give either 'threshold' (every exit) or one 'exit<i>' per "
                             "exit, not both", source=source, field=prefix)
        if "threshold" not in sub and sorted(sub) != sorted(per_exit):
            raise InputError("give 'threshold' or every one of the per-exit thresholds",
                             source=source, field=prefix, allowed=["threshold", *per_exit])
        dims = {}
        for key, v in sub.items():
            dim = parse_dim(v, source=source, path=f"{prefix}.{key}", kind="float")
            vals = [dim.low, dim.high] if dim.kind == "float" else list(dim.values)
            if any(isinstance(x, bool) or not isinstance(x, int | float) or not 0.0 <= x <= 1.0
                   for x in vals):
                raise InputError("exit thresholds are confidences", source=source,
                                 field=f"{prefix}.{key}", allowed="0 .. 1")
            dims[key] = dim
        out[stream] = dims
        counts[stream] = len(per_exit)
    return out, counts


def _check_param_bounds(dim: Dim, decl, source: str, path: str) -> None:
    low, high = getattr(decl, "low", None), getattr(decl, "high", None)
    if decl.kind == "bool":
        return
    if dim.kind in ("int", "float"):
        vals = [dim.low, dim.high]
    else:
        vals = list(dim.values)
    for v in vals:
        if (low is not None and v < low) or (high is not None and v > high):
            raise InputError(f"value {v} outside the parameter's range", source=source,
                             field=path, allowed=f"{low} .. {high}")


def _check_space_feasible(space: Space, source: str, seed: int) -> None:
    """Raise when no combination of the NPU dimensions gives a valid ``NpuDesign``.

    Enumerates the finite product when it has at most 4096 points, otherwise checks
    512 random points (fixed seed).  Single invalid points are allowed: such trials are
    recorded as FAIL at run time (see ``docs/studies.md``).
    """
    from cost_models import NpuDesign

    names = list(space.npu)
    pools = []
    for name in names:
        dim = space.npu[name]
        vals = dim.candidates(limit=64)
        if vals is None:  # wide or continuous range: ends and a midpoint
            mid = (dim.low + dim.high) / 2
            vals = [dim.low, int(mid) if dim.kind == "int" else mid, dim.high]
        pools.append(vals)
    total = math.prod(len(p) for p in pools)
    if total <= 4096:
        points = itertools.product(*pools)
    else:
        rng = random.Random(seed)
        points = ([rng.choice(p) for p in pools] for _ in range(512))
    first_error = None
    for point in points:
        table = {n: (list(v) if isinstance(v, tuple) else v) for n, v in zip(names, point, strict=True)}
        try:
            NpuDesign.from_dict(table, source=source, prefix="space.npu.")
            return
        except InputError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise InputError(f"contradictory space: no valid NPU design ({first_error.message})",
                         source=source, field=first_error.field, allowed=first_error.allowed)


def _parse_objectives(value, source: str) -> list[tuple[str, str]]:
    if value is None:
        return [("slo_attainment", "maximize"), ("area_mm2", "minimize")]
    if not isinstance(value, list) or not value:
        raise InputError("expected a non-empty list of {metric, direction} tables",
                         source=source, field="study.objectives")
    out = []
    for i, item in enumerate(value):
        path = f"study.objectives[{i}]"
        if isinstance(item, str):
            item = {"metric": item}
        item = _table(item, source, path)
        check_keys(item, ("metric", "direction"), source=source, prefix=path + ".")
        metric = item.get("metric")
        if metric not in METRICS:
            hint = did_you_mean(metric, METRICS) if isinstance(metric, str) else ""
            raise InputError(f"unknown objective {metric!r}{hint}", source=source,
                             field=path + ".metric", allowed=list(METRICS))
        direction = item.get("direction", _default_direction(metric))
        if direction not in DIRECTIONS:
            raise InputError(f"unknown direction {direction!r}", source=source,
                             field=path + ".direction", allowed=DIRECTIONS)
        if any(m == metric for m, _ in out):
            raise InputError(f"objective '{metric}' given twice", source=source, field=path)
        out.append((metric, direction))
    return out


def _default_direction(metric: str) -> str:
    minimise = ("area_mm2", "energy_uj_per_request", "mean_latency_ms", "p50_latency_ms",
                "p95_latency_ms", "p99_latency_ms")
    return "minimize" if metric in minimise else "maximize"


def _parse_constraints(value, source: str) -> list[Constraint]:
    table = _table(value or {}, source, "study.constraints")
    allowed = [f"{k}_{m}" for m in METRICS for k in ("max", "min")]
    out = []
    for key, bound in table.items():
        if key not in allowed:
            raise InputError(f"unknown constraint '{key}'{did_you_mean(key, allowed)}",
                             source=source, field=f"study.constraints.{key}",
                             allowed="max_<metric> or min_<metric> with metric in "
                                     + ", ".join(METRICS))
        if not _is_num(bound) or not math.isfinite(bound):
            raise InputError(f"expected a number, got {bound!r}", source=source,
                             field=f"study.constraints.{key}")
        kind, metric = key.split("_", 1)
        out.append(Constraint(key, metric, kind, float(bound)))
    by_metric: dict[str, dict[str, float]] = {}
    for c in out:
        by_metric.setdefault(c.metric, {})[c.kind] = c.bound
    for metric, b in by_metric.items():
        if "min" in b and "max" in b and b["min"] > b["max"]:
            raise InputError(f"contradictory constraints: min_{metric}={b['min']} > "
                             f"max_{metric}={b['max']}", source=source,
                             field=f"study.constraints.min_{metric}")
    return out


def _parse_fidelity(table: dict, source: str) -> Fidelity:
    table = _table(table, source, "fidelity")
    check_keys(table, _FIDELITY_KEYS, source=source, prefix="fidelity.")
    p = "fidelity."
    d = Fidelity()
    requests = _int(table, "requests", source, p, default=d.requests, low=10)
    short = _int(table, "short_requests", source, p, default=d.short_requests, low=0)
    if short and short >= requests:
        raise InputError(f"must be smaller than fidelity.requests={requests} (or 0 = off), "
                         f"got {short}", source=source, field=p + "short_requests")
    if 0 < short < 10:
        raise InputError(f"must be 0 (off) or >= 10, got {short}", source=source,
                         field=p + "short_requests")
    lists = {}
    for key in ("satisfaction_loads", "satisfaction_slo_x"):
        v = table.get(key, getattr(d, key))
        if (not isinstance(v, list | tuple) or not v
                or any(not _is_num(x) or x <= 0 for x in v)):
            raise InputError(f"expected a non-empty list of positive numbers, got {v!r}",
                             source=source, field=p + key)
        lists[key] = tuple(float(x) for x in v)
    return Fidelity(
        requests=requests,
        replications=_int(table, "replications", source, p, default=d.replications, low=1),
        warmup=_num(table, "warmup", source, p, default=d.warmup, low=0.0, high=0.9),
        short_requests=short,
        prune_after=_int(table, "prune_after", source, p, default=d.prune_after, low=1),
        prune_margin=_num(table, "prune_margin", source, p, default=d.prune_margin, low=0.0),
        **lists)


def _parse_scenario(table, source: str, base: Path):
    from workloads import Scenario, load_scenario

    table = _table(table, source, "scenario")
    if "file" in table:
        if len(table) != 1:
            other = next(k for k in table if k != "file")
            raise InputError("a scenario given as 'file' takes no other keys",
                             source=source, field=f"scenario.{other}")
        f = table["file"]
        if not isinstance(f, str):
            raise InputError(f"expected a path, got {f!r}", source=source, field="scenario.file")
        path = (base / f) if not Path(f).is_absolute() else Path(f)
        if not path.is_file():
            raise InputError(f"no such file '{f}'", source=source, field="scenario.file")
        return load_scenario(path)
    return Scenario.from_dict(table, source=source, base_dir=str(base))


def _canonical_scenario(scenario) -> Any:
    try:
        return scenario.to_dict()
    except Exception:  # pragma: no cover - defensive: hash the repr instead
        return repr(scenario)


def spec_hash(parts: dict) -> str:
    """Hash (hex, 16 chars) of everything that defines the study's numbers."""
    blob = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def default_storage(results_dir: Path) -> str:
    return f"sqlite:///{(results_dir / 'study.db').as_posix()}"


# --------------------------------------------------------------------------- entry points
def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study spec file."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise InputError("no such spec file", source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", source=source) from None
    return parse_spec(text, source=source, base=path.resolve().parent)


def parse_spec(text: str, *, source: str = "<spec>", base: Path | None = None) -> StudySpec:
    """Validate spec TOML ``text``; relative paths resolve against ``base``."""
    base = base or Path.cwd()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", source=source) from None
    check_keys(doc, ("study", "scenario", "fidelity", "space"), source=source)
    for key in ("study", "scenario", "space"):
        if key not in doc:
            raise InputError(f"missing [{key}] table", source=source, field=key)
    study = _table(doc["study"], source, "study")
    check_keys(study, _STUDY_KEYS, source=source, prefix="study.")

    name = study.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("a study needs a non-empty string 'name'", source=source,
                         field="study.name")
    sampler = study.get("sampler", "nsga2")
    if sampler not in SAMPLER_NAMES:
        hint = did_you_mean(sampler, SAMPLER_NAMES) if isinstance(sampler, str) else ""
        raise InputError(f"unknown sampler {sampler!r}{hint}", source=source,
                         field="study.sampler", allowed=SAMPLER_NAMES)
    if sampler == "gp":
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise InputError("the gp sampler needs PyTorch (pip install torch)",
                             source=source, field="study.sampler",
                             allowed=[n for n in SAMPLER_NAMES if n != "gp"])
    options = _table(study.get("sampler_options", {}), source, "study.sampler_options")
    check_keys(options, SAMPLER_OPTIONS[sampler], source=source,
               prefix="study.sampler_options.")
    _check_sampler_options(options, source)
    n_trials = _int(study, "n_trials", source, "study.", low=1)
    timeout = _num(study, "timeout", source, "study.", low=0.0, strict_low=True)
    seed = _int(study, "seed", source, "study.", default=0, low=0)
    if n_trials is None and timeout is None and sampler != "grid":
        raise InputError("give n_trials and/or timeout", source=source, field="study.n_trials")

    objectives = _parse_objectives(study.get("objectives"), source)
    constraints = _parse_constraints(study.get("constraints"), source)
    fidelity = _parse_fidelity(doc.get("fidelity", {}), source)
    scenario = _parse_scenario(doc["scenario"], source, base)
    space_table = _table(doc["space"], source, "space")
    space = _parse_space(space_table, source)
    if "exits" in space_table:
        exits, counts = _parse_exits(_table(space_table["exits"], source, "space.exits"),
                                     scenario, source)
        space = dataclasses.replace(space, exits=exits, thresholds_per_stream=counts)
    _check_space_feasible(space, source, seed)
    if sampler == "grid":
        grid = space.grid(source)
        size = math.prod(len(v) for v in grid.values()) if grid else 1
        n_trials = size if n_trials is None else n_trials

    results_dir = study.get("results_dir", f"results/{name}")
    if not isinstance(results_dir, str):
        raise InputError(f"expected a path, got {results_dir!r}", source=source,
                         field="study.results_dir")
    results_dir = Path(results_dir)
    if not results_dir.is_absolute():
        results_dir = base / results_dir
    storage = study.get("storage")
    if storage is not None and (not isinstance(storage, str) or not storage):
        raise InputError("expected a storage URL string", source=source, field="study.storage")
    storage_is_default = storage is None
    if storage is None:
        storage = default_storage(results_dir)
    else:
        storage = resolve_storage_path(storage, base)

    parts = {"objectives": objectives,
             "constraints": [(c.name, c.bound) for c in constraints],
             "scenario": _canonical_scenario(scenario),
             "fidelity": {f.name: getattr(fidelity, f.name) for f in fields(fidelity)},
             "space": space.canonical(), "sampler": sampler, "sampler_options": options,
             "seed": seed}
    return StudySpec(name=name, storage_url=storage, sampler=sampler, sampler_options=options,
                     n_trials=n_trials, timeout=timeout, seed=seed, objectives=objectives,
                     constraints=constraints, scenario=scenario, fidelity=fidelity,
                     space=space, results_dir=results_dir, spec_hash=spec_hash(parts),
                     source=source, text=text, storage_is_default=storage_is_default)


def resolve_storage_path(url: str, base: Path) -> str:
    """Make relative SQLite/journal paths absolute against ``base`` (the spec's folder)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        p = Path(url[len("sqlite:///"):])
        return url if p.is_absolute() else f"sqlite:///{(base / p).as_posix()}"
    if url.startswith("journal:///"):
        p = Path(url[len("journal:///"):])
        return url if p.is_absolute() else f"journal:///{(base / p).as_posix()}"
    if "://" not in url:
        p = Path(url)
        return str(p if p.is_absolute() else base / p)
    return url
