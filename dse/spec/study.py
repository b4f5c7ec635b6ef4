"""Study specs: a TOML file describing one Optuna multi-objective study, validated.

A spec has four tables (see ``docs/studies.md`` for the full reference):

* ``[study]``: ``name``, ``storage`` (URL; default a SQLite file ``study.db`` in the
  results directory), ``results_dir`` (default ``results/<name>`` next to the spec),
  ``sampler`` (a name of ``dse.search.SAMPLERS``), ``sampler_options``, ``n_trials``
  (total complete trials to reach), ``timeout`` (seconds per run), ``seed``,
  ``objectives`` (``[{metric, direction}]``, metrics of ``dse.metrics.METRICS``) and
  ``[study.constraints]`` (``max_<metric>`` / ``min_<metric>`` bounds).
* ``[scenario]``: inline (as in ``workloads.Scenario``) or ``{file = "path.toml"}``.
* ``[fidelity]``: ``requests`` per trial, ``replications``, ``warmup``, the multi-fidelity
  short trace (``short_requests``, ``prune_after``, ``prune_margin``) and the
  satisfaction sweep (``satisfaction_loads``, ``satisfaction_slo_x``).
* ``[space]``: see :mod:`dse.spec.space`.

Every mistake raises :class:`InputError` naming the file, the TOML path and the allowed
values.  Nothing here touches a storage.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dse.common import (
    InputError,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_memory,
    check_numbers,
    check_requests,
    check_seed,
    check_str,
    check_table,
)
from dse.common.limits import BYTES_PER_REQUEST
from dse.metrics import (
    SATISFACTION_LOADS,
    SATISFACTION_SLO_X,
    base_metric,
    check_metric,
    objective_metrics,
    split_metric,
)
from dse.search import SAMPLERS
from dse.spec._checks import check_feasible
from dse.spec.paths import default_storage, resolve_storage_path
from dse.spec.space import Space, parse_exits, parse_space

DIRECTIONS = ("maximize", "minimize")
_FIDELITY_KEYS = ("requests", "replications", "warmup", "short_requests", "prune_after",
                  "prune_margin", "satisfaction_loads", "satisfaction_slo_x")


@dataclass(frozen=True)
class Constraint:
    """``metric`` must stay ``<= bound`` (kind ``max``) or ``>= bound`` (kind ``min``).

    ``name`` is the key under ``[study.constraints]`` (``max_area_mm2``,
    ``streams.voice.min_slo_attainment``); ``metric`` a name ``metric_value`` reads
    (``area_mm2``, ``streams.voice.slo_attainment``)."""

    name: str
    metric: str
    kind: str
    bound: float

    def violation(self, value: float) -> float:
        """Optuna convention: <= 0 means satisfied (in the metric's unit)."""
        return value - self.bound if self.kind == "max" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric}{'<=' if self.kind == 'max' else '>='}{self.bound:g}"


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
    satisfaction_loads: tuple[float, ...] = SATISFACTION_LOADS
    satisfaction_slo_x: tuple[float, ...] = SATISFACTION_SLO_X


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

    @property
    def metric_names(self) -> list[str]:
        return [m for m, _ in self.objectives]

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    def needed_metrics(self) -> set[str]:
        return set(self.metric_names) | {c.metric for c in self.constraints}


# --------------------------------------------------------------------------- parts
def _get(table: dict, key: str, check, default=None, **bounds):
    """``table[key]`` checked by ``check`` (a ``dse.common`` checker), or ``default``."""
    return check(table[key], **bounds) if key in table else default


def _parse_sampler(study: dict, source: str) -> tuple[str, dict]:
    name = check_choice(study.get("sampler", "nsga2"), SAMPLERS, source=source,
                        field="study.sampler", what="sampler")
    sampler = SAMPLERS[name]
    why = sampler.missing()
    if why:
        raise InputError(why, source=source, field="study.sampler",
                         allowed=[n for n, s in SAMPLERS.items() if not s.missing()])
    options = check_table(study.get("sampler_options", {}), source=source,
                          field="study.sampler_options")
    check_keys(options, sampler.options, source=source, prefix="study.sampler_options.")
    for key, value in options.items():
        sampler.options[key].check(value, source=source, field=f"study.sampler_options.{key}")
    return name, options


def _parse_objectives(value, source: str, streams) -> list[tuple[str, str]]:
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
        check_table(item, source=source, field=path)
        check_keys(item, ("metric", "direction"), source=source, prefix=path + ".")
        metric = check_metric(item.get("metric"), streams=streams, source=source,
                              field=path + ".metric", what="objective")
        direction = check_choice(item.get("direction", base_metric(metric).direction),
                                 DIRECTIONS, source=source, field=path + ".direction",
                                 what="direction")
        if any(m == metric for m, _ in out):
            raise InputError(f"objective '{metric}' given twice", source=source, field=path)
        out.append((metric, direction))
    return out


def _bounds(table: dict, source: str, prefix: str, metric_of) -> list[Constraint]:
    """``max_<metric>`` / ``min_<metric>`` keys of one constraints table."""
    names = [m.name for m in objective_metrics() if metric_of(m.name) is not None]
    allowed = [f"{k}_{m}" for m in names for k in ("max", "min")]
    out = []
    for key, bound in table.items():
        field = f"{prefix}{key}"
        if key not in allowed:
            check_choice(key, allowed, source=source, field=field, what="constraint")
        kind, metric = key.split("_", 1)
        out.append(Constraint(field[len("study.constraints."):], metric_of(metric), kind,
                              check_float(bound, source=source, field=field)))
    return out


def _parse_constraints(value, source: str, streams) -> list[Constraint]:
    """``[study.constraints]``: ``max_<metric>`` / ``min_<metric>`` on overall or design
    metrics; ``[study.constraints.streams.<stream>]``: the same keys on one stream's
    simulation metrics (constraint ``streams.<stream>.min_<metric>``)."""
    from dse.metrics import METRICS

    table = dict(check_table(value or {}, source=source, field="study.constraints"))
    per_stream = check_table(table.pop("streams", {}), source=source,
                             field="study.constraints.streams")
    out = _bounds(table, source, "study.constraints.", lambda m: m)
    for stream, sub in per_stream.items():
        if stream not in streams:
            check_choice(stream, streams, source=source, what="stream",
                         field=f"study.constraints.streams.{stream}")
        sub = check_table(sub, source=source, field=f"study.constraints.streams.{stream}")
        out += _bounds(sub, source, f"study.constraints.streams.{stream}.",
                       lambda m, s=stream: f"streams.{s}.{m}"
                       if METRICS[m].source == "simulation" else None)
    by_metric: dict[str, dict[str, float]] = {}
    for c in out:
        by_metric.setdefault(c.metric, {})[c.kind] = c.bound
    for metric, b in by_metric.items():
        if "min" in b and "max" in b and b["min"] > b["max"]:
            stream, base = split_metric(metric)
            where = f"streams.{stream}." if stream else ""
            raise InputError(f"contradictory constraints: min_{base}={b['min']} > "
                             f"max_{base}={b['max']}", source=source,
                             field=f"study.constraints.{where}min_{base}")
    return out


def _parse_fidelity(table: dict, source: str) -> Fidelity:
    table = check_table(table, source=source, field="fidelity")
    check_keys(table, _FIDELITY_KEYS, source=source, prefix="fidelity.")
    d = Fidelity()

    def get(key, check, **bounds):
        return _get(table, key, check, getattr(d, key), source=source,
                    field=f"fidelity.{key}", **bounds)

    requests = get("requests", check_requests, low=10)
    replications = get("replications", check_int, low=1, high=1000)
    # every replication's trace stays in memory for the whole study
    check_memory(requests * replications * BYTES_PER_REQUEST,
                 f"{replications} traces of {requests} requests", source=source,
                 field="fidelity.requests")
    short = get("short_requests", check_int, low=0)
    if short and short >= requests:
        raise InputError(f"must be smaller than fidelity.requests={requests} (or 0 = off), "
                         f"got {short}", source=source, field="fidelity.short_requests")
    if 0 < short < 10:
        raise InputError(f"must be 0 (off) or >= 10, got {short}", source=source,
                         field="fidelity.short_requests")
    return Fidelity(
        requests=requests,
        replications=replications,
        warmup=get("warmup", check_float, low=0.0, high=0.9),
        short_requests=short,
        prune_after=get("prune_after", check_int, low=1),
        prune_margin=get("prune_margin", check_float, low=0.0),
        satisfaction_loads=get("satisfaction_loads", check_numbers, low=0.0, low_open=True),
        satisfaction_slo_x=get("satisfaction_slo_x", check_numbers, low=0.0, low_open=True))


def _parse_scenario(table, source: str, base: Path):
    from workloads import Scenario, load_scenario

    table = check_table(table, source=source, field="scenario")
    if "file" in table:
        if len(table) != 1:
            other = next(k for k in table if k != "file")
            raise InputError("a scenario given as 'file' takes no other keys",
                             source=source, field=f"scenario.{other}")
        f = check_str(table["file"], source=source, field="scenario.file")
        path = (base / f) if not Path(f).is_absolute() else Path(f)
        if not path.is_file():
            raise InputError(f"no such file '{f}'", source=source, field="scenario.file")
        return load_scenario(path)
    return Scenario.from_dict(table, source=source, base_dir=str(base))


def spec_hash(parts: dict) -> str:
    """Hash (hex, 16 chars) of everything that defines the study's numbers."""
    import hashlib
    import json

    blob = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- the spec
def from_document(doc: dict, *, text: str, source: str, base: Path) -> StudySpec:
    """The spec of a parsed document whose shape :func:`dse.spec.parse_spec` checked."""
    study = doc["study"]
    name = check_str(study.get("name"), source=source, field="study.name", empty=False)
    sampler, options = _parse_sampler(study, source)
    n_trials = _get(study, "n_trials", check_int, source=source, field="study.n_trials",
                    low=1)
    timeout = _get(study, "timeout", check_float, source=source, field="study.timeout",
                   low=0.0, low_open=True)
    seed = _get(study, "seed", check_seed, 0, source=source, field="study.seed")
    if n_trials is None and timeout is None and sampler != "grid":
        raise InputError("give n_trials and/or timeout", source=source, field="study.n_trials")

    fidelity = _parse_fidelity(doc.get("fidelity", {}), source)
    if fidelity.replications > 1:  # replication r draws its trace with seed + r
        check_seed(seed, source=source, field="study.seed", span=fidelity.replications)
    space_table = check_table(doc["space"], source=source, field="space")
    space = parse_space(space_table, source)
    check_feasible(space, source, seed)
    # The scenario loads the model zoo (and NumPy): the checks above, which need neither,
    # come first, so that a mistake in them is reported without that start-up cost.
    scenario = _parse_scenario(doc["scenario"], source, base)
    streams = [st.name for st in scenario.streams]
    objectives = _parse_objectives(study.get("objectives"), source, streams)
    constraints = _parse_constraints(study.get("constraints"), source, streams)
    if "exits" in space_table:
        exits, counts = parse_exits(check_table(space_table["exits"], source=source,
                                                field="space.exits"), scenario, source)
        space = dataclasses.replace(space, exits=exits, thresholds_per_stream=counts)
    if sampler == "grid":
        grid = space.grid(source)
        size = math.prod(len(v) for v in grid.values()) if grid else 1
        n_trials = size if n_trials is None else n_trials

    results_dir = Path(check_str(study.get("results_dir", f"results/{name}"), source=source,
                                 field="study.results_dir"))
    if not results_dir.is_absolute():
        results_dir = base / results_dir
    storage = study.get("storage")
    if storage is not None:
        storage = resolve_storage_path(check_str(storage, source=source, field="study.storage",
                                                 empty=False), base)
    storage_is_default = storage is None
    if storage is None:
        storage = default_storage(results_dir)

    parts = {"objectives": objectives,
             "constraints": [(c.name, c.bound) for c in constraints],
             "scenario": scenario.to_dict(),
             "fidelity": {f.name: getattr(fidelity, f.name) for f in fields(fidelity)},
             "space": space.canonical(), "sampler": sampler, "sampler_options": options,
             "seed": seed}
    return StudySpec(name=name, storage_url=storage, sampler=sampler, sampler_options=options,
                     n_trials=n_trials, timeout=timeout, seed=seed, objectives=objectives,
                     constraints=constraints, scenario=scenario, fidelity=fidelity,
                     space=space, results_dir=results_dir, spec_hash=spec_hash(parts),
                     source=source, text=text, storage_is_default=storage_is_default)
