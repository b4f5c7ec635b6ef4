"""The search space of a study: dimensions, their Optuna encoding, grid and checks.

``[space.npu]`` and ``[space.policy]``: every ``NpuDesign`` field and every policy
parameter is fixed (a scalar), categorical (a list) or a range ``{low, high, step, log}``;
``space.policy.name`` is one policy or a list, and each policy's parameters live in
``[space.policy.<name>]`` (conditional on that policy).  ``[space.exits.<stream>]``
searches a stream's exit confidence thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from dse.common import (
    InputError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_str,
    check_table,
    did_you_mean,
    is_int,
)
from dse.spec._checks import check_npu_bounds, check_param_bounds

_RANGE_KEYS = ("low", "high", "step", "log")


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

    def suggest(self, trial, name: str):
        """This dimension's value for an Optuna ``trial`` (Optuna parameter ``name``;
        fixed dimensions are not Optuna parameters)."""
        if self.kind == "fixed":
            v = self.values[0]
            return list(v) if isinstance(v, tuple) else v
        if self.kind == "choice":
            return decode_choice(trial.suggest_categorical(
                name, [encode_choice(v) for v in self.values]))
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def distribution(self):
        """The Optuna distribution :meth:`suggest` records (``None`` for a fixed one)."""
        from optuna import distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution([encode_choice(v) for v in self.values])
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), step=int(self.step or 1),
                                     log=self.log)
        return None if self.kind == "fixed" else d.FloatDistribution(
            self.low, self.high, step=self.step, log=self.log)

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

    def varying(self) -> list[str]:
        """Optuna parameter names of the dimensions that are searched (not fixed)."""
        cols = [n for n, d in self.npu.items() if d.kind != "fixed"]
        if self.policy.kind != "fixed":
            cols.append("policy")
        for pol, dims in self.params.items():
            cols += [f"{pol}.{n}" for n, d in dims.items() if d.kind != "fixed"]
        return cols

    def searched(self, policy: str) -> dict[str, Dim]:
        """Optuna parameter name -> dimension of every searched (not fixed) dimension of a
        trial that uses ``policy``, in the order a trial suggests them."""
        out = {n: d for n, d in self.npu.items() if d.kind != "fixed"}
        if self.policy.kind != "fixed":
            out["policy"] = self.policy
        out.update({f"{policy}.{n}": d for n, d in self.params.get(policy, {}).items()
                    if d.kind != "fixed"})
        for stream, dims in self.exits.items():
            if "threshold" in dims:
                names = ["threshold"]
            else:
                names = sorted(dims, key=lambda k: int(k[4:]))
            out.update({f"exits.{stream}.{k}": dims[k] for k in names
                        if dims[k].kind != "fixed"})
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
    """The inverse of :func:`encode_choice`."""
    if isinstance(value, str) and value and all(p.strip().lstrip("-").isdigit()
                                                for p in value.split(",")):
        return [int(p) for p in value.split(",")]
    return value


# --------------------------------------------------------------------------- parsing
def parse_dim(value, *, source: str, path: str, kind: str) -> Dim:
    """Parse one dimension; ``kind`` is the field type: int, float, str, bool or list."""
    if isinstance(value, dict):
        return _parse_range(value, source=source, path=path, kind=kind)
    if isinstance(value, list) and (kind != "list" or (value and isinstance(value[0], list))):
        if not value:
            raise InputError("empty list of choices", source=source, field=path)
        vals = [_scalar(v, kind, source, f"{path}[{i}]") for i, v in enumerate(value)]
        if len(set(map(repr, vals))) != len(vals):
            raise InputError("duplicate choices", source=source, field=path)
        return Dim("fixed", (vals[0],)) if len(vals) == 1 else Dim("choice", tuple(vals))
    return Dim("fixed", (_scalar(value, kind, source, path),))


def _parse_range(value: dict, *, source: str, path: str, kind: str) -> Dim:
    check_keys(value, _RANGE_KEYS, source=source, prefix=path + ".")
    if kind not in ("int", "float"):
        raise InputError(f"a range needs a numeric field, this one is {kind}; use a list",
                         source=source, field=path)
    number = check_int if kind == "int" else check_float
    for key in ("low", "high"):
        if key not in value:
            raise InputError(f"a range needs '{key}'", source=source, field=f"{path}.{key}")
        number(value[key], source=source, field=f"{path}.{key}")
    low, high = value["low"], value["high"]
    if low > high:
        raise InputError(f"empty range: low={low} > high={high}", source=source, field=path)
    log = check_bool(value.get("log", False), source=source, field=f"{path}.log")
    step = value.get("step")
    if step is not None:
        number(step, source=source, field=f"{path}.step", low=0, low_open=True)
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


def _scalar(v, kind: str, source: str, path: str):
    if kind == "int":
        return check_int(v, source=source, field=path)
    if kind == "float":
        return check_float(v, source=source, field=path)
    if kind == "bool":
        return check_bool(v, source=source, field=path)
    if kind == "str":
        return check_str(v, source=source, field=path)
    if not (isinstance(v, list) and v and all(is_int(x) for x in v)):  # a list of ints
        raise InputError(f"expected a non-empty list of integers, got {v!r}", source=source,
                         field=path)
    return tuple(sorted(set(v)))


def _npu_kinds() -> dict[str, str]:
    from cost_models import NpuDesign

    kinds = {}
    for f in fields(NpuDesign):
        default = getattr(NpuDesign(), f.name)
        kinds[f.name] = ("bool" if isinstance(default, bool) else
                         "int" if isinstance(default, int) else
                         "float" if isinstance(default, float) else
                         "list" if isinstance(default, tuple) else "str")
    return kinds


def parse_space(table: dict, source: str) -> Space:
    """``[space.npu]`` and ``[space.policy]`` (exits: :func:`parse_exits`)."""
    from dse.sim import POLICIES

    check_keys(table, ("npu", "policy", "exits"), source=source, prefix="space.")
    npu_table = check_table(table.get("npu", {}), source=source, field="space.npu")
    kinds = _npu_kinds()
    check_keys(npu_table, kinds, source=source, prefix="space.npu.")
    npu = {name: parse_dim(v, source=source, path=f"space.npu.{name}", kind=kinds[name])
           for name, v in npu_table.items()}
    for name, dim in npu.items():
        check_npu_bounds(name, dim, source)

    pol_table = check_table(table.get("policy", {}), source=source, field="space.policy")
    names = list(POLICIES)
    check_keys(pol_table, ["name", *names], source=source, prefix="space.policy.")
    raw = pol_table.get("name", "fluid" if "fluid" in POLICIES else names[0])
    choices = raw if isinstance(raw, list) else [raw]
    if not choices:
        raise InputError("empty list of policies", source=source, field="space.policy.name",
                         allowed=names)
    for i, p in enumerate(choices):
        check_choice(p, names, source=source, what="policy",
                     field="space.policy.name" + (f"[{i}]" if isinstance(raw, list) else ""))
    if len(set(choices)) != len(choices):
        raise InputError("duplicate policies", source=source, field="space.policy.name")
    policy = Dim("fixed", (choices[0],)) if len(choices) == 1 else Dim("choice", tuple(choices))
    params: dict[str, dict[str, Dim]] = {}
    for pol in choices:
        ptable = check_table(pol_table.get(pol, {}), source=source,
                             field=f"space.policy.{pol}")
        declared = POLICIES[pol].params
        check_keys(ptable, declared, source=source, prefix=f"space.policy.{pol}.")
        dims = {}
        for pname, v in ptable.items():
            decl = declared[pname]
            path = f"space.policy.{pol}.{pname}"
            dim = parse_dim(v, source=source, path=path, kind=decl.kind)
            check_param_bounds(dim, decl, source, path)
            dims[pname] = dim
        params[pol] = dims
    for pol in pol_table:
        if pol != "name" and pol not in choices:
            raise InputError(f"parameters given for policy '{pol}', which is not searched",
                             source=source, field=f"space.policy.{pol}", allowed=choices)
    return Space(npu=npu, policy=policy, params=params)


def parse_exits(table: dict, scenario, source: str
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
        sub = check_table(value, source=source, field=prefix)
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
            if any(not 0.0 <= x <= 1.0 for x in vals):
                raise InputError("exit thresholds are confidences", source=source,
                                 field=f"{prefix}.{key}", allowed="0 .. 1")
            dims[key] = dim
        out[stream] = dims
        counts[stream] = len(per_exit)
    return out, counts
