"""Scenarios: streams of requests from many devices, each with a model, an arrival
process, a rate, an SLO and a priority; merged into one :class:`Trace` per seed.

TOML form (see the README)::

    [scenario]
    name = "home"
    [[scenario.streams]]
    name = "doorbell"; model = "resnet50"; arrival = "bursty"; rate_rps = 20
    slo_ms = 80; priority = 1; peak_to_base = 8        # arrival parameters inline

Common random numbers: stream ``name`` draws its arrivals and its exits from two
generators seeded by ``(seed, crc32(name))`` only, so they do not depend on the design,
the policy or the other streams' parameters.
"""

from __future__ import annotations

import dataclasses
import math
import os
import zlib
from dataclasses import dataclass, field

import numpy as np

from dse.common import (
    InputError,
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_requests,
    check_seed,
    check_str,
    check_table,
    did_you_mean,
    read_toml,
    table,
)
from dse.common.limits import MAX_RATE_RPS, MAX_TIME_MS, MIN_RATE_RPS
from workloads._stream_exits import stream_exits, stream_profile
from workloads.arrivals import ARRIVALS
from workloads.exits import (
    check_thresholds,
    shift_profile,
)
from workloads.model import EarlyExitModel, check_profile
from workloads.registry import get_model, is_model_file
from workloads.trace import Trace, check_horizon

STREAM_KEYS = ("name", "model", "arrival", "rate_rps", "slo_ms", "slo_x", "priority",
               "exit_mode", "exit_profile", "exit_thresholds", "confidence_slope")
SCENARIO_KEYS = ("name", "description", "streams")
EXIT_MODES = ("profile", "difficulty")


@dataclass(frozen=True)
class Stream:
    """One device (or group of devices) sending requests for one model.

    ``rate_rps`` mean arrival rate (requests/s; ``None`` only for trace replay at the
    recorded rate); SLO as ``slo_ms`` (ms) or ``slo_x`` (multiple of the model's isolated
    batch-1 latency on the design under test); ``priority`` (larger = more important);
    ``exit_mode`` "profile" (fixed per-exit probabilities) or "difficulty" (confidence
    thresholds, see :mod:`workloads.exits`); ``confidence_slope`` ``None`` means the
    model's own (fitted to a published threshold sweep where the zoo has one).
    """

    name: str
    model: str
    arrival: str = "poisson"
    rate_rps: float | None = None
    slo_ms: float | None = None
    slo_x: float | None = None
    priority: int = 0
    arrival_params: tuple[tuple[str, object], ...] = ()
    exit_mode: str = "profile"
    exit_profile: tuple[float, ...] | None = None
    exit_thresholds: tuple[float, ...] | None = None
    confidence_slope: float | None = None

    @property
    def params(self) -> dict:
        return dict(self.arrival_params)

    def to_dict(self) -> dict:
        out = {"name": self.name, "model": self.model, "arrival": self.arrival}
        if self.rate_rps is not None:
            out["rate_rps"] = self.rate_rps
        if self.slo_ms is not None:
            out["slo_ms"] = self.slo_ms
        if self.slo_x is not None:
            out["slo_x"] = self.slo_x
        out["priority"] = self.priority
        out.update(self.params)
        out["exit_mode"] = self.exit_mode
        if self.exit_profile is not None:
            out["exit_profile"] = list(self.exit_profile)
        if self.exit_thresholds is not None:
            out["exit_thresholds"] = list(self.exit_thresholds)
        if self.confidence_slope is not None:
            out["confidence_slope"] = self.confidence_slope
        return out


@dataclass(frozen=True)
class Scenario:
    """Validated scenario: ``name``, ``streams`` (tuple of :class:`Stream`)."""

    name: str
    streams: tuple[Stream, ...]
    description: str = ""
    source: str | None = field(default=None, compare=False)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_dict(cls, table: dict, *, source: str | None = None,
                  base_dir: str | None = None, prefix: str = "scenario.") -> Scenario:
        """Validate the ``[scenario]`` table; relative paths resolve against ``base_dir``
        (default: the directory of ``source``)."""
        if base_dir is None and source and os.path.exists(source):
            base_dir = os.path.dirname(os.path.abspath(source))
        check_table(table, source=source, field=prefix.rstrip("."))
        check_keys(table, SCENARIO_KEYS, source=source, prefix=prefix)
        name = check_str(table.get("name", "scenario"), source=source, field=f"{prefix}name")
        desc = check_str(table.get("description", ""), source=source,
                         field=f"{prefix}description")
        raw = table.get("streams")
        if not isinstance(raw, list) or not raw:
            raise InputError("a scenario needs at least one [[scenario.streams]] entry",
                             source=source, field=f"{prefix}streams")
        streams = tuple(_stream(t, i, source=source, base_dir=base_dir,
                                prefix=f"{prefix}streams[{i}].") for i, t in enumerate(raw))
        seen = set()
        for i, s in enumerate(streams):
            if s.name in seen:
                raise InputError(f"duplicate stream name '{s.name}'", source=source,
                                 field=f"{prefix}streams[{i}].name")
            seen.add(s.name)
        return cls(name=name, streams=streams, description=desc, source=source)

    def to_dict(self) -> dict:
        """The ``[scenario]`` table (round-trips through :meth:`from_dict`)."""
        out = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["streams"] = [s.to_dict() for s in self.streams]
        return out

    # -- views -------------------------------------------------------------------------
    @property
    def models(self) -> list[str]:
        """Distinct model names, in stream order (zoo names or model file paths)."""
        return list(dict.fromkeys(s.model for s in self.streams))

    def get_models(self) -> dict[str, EarlyExitModel]:
        """Model name -> :class:`EarlyExitModel` (model defaults, no stream overrides)."""
        return {m: get_model(m) for m in self.models}

    @property
    def stream_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.streams)

    @property
    def priorities(self) -> np.ndarray:
        """int32[S] priority of each stream (larger = more important)."""
        return np.array([s.priority for s in self.streams], dtype=np.int32)

    def rates_rps(self) -> np.ndarray:
        """float64[S] mean request rate of each stream (recorded rate for replays)."""
        return np.array([_rate_rps(s) for s in self.streams])

    def exit_profiles(self) -> dict[str, tuple[float, ...]]:
        """Model -> share of its requests expected at each exit: the profiles of its
        streams (:func:`stream_profile`) weighted by their rates."""
        out: dict[str, np.ndarray] = {}
        for s, rate in zip(self.streams, self.rates_rps(), strict=True):
            out[s.model] = out.get(s.model, 0.0) + rate * np.asarray(stream_profile(s))
        return {m: tuple(float(x) for x in p / p.sum()) for m, p in out.items()}

    def slo_ms(self, isolated_ms: dict[str, float] | None = None) -> np.ndarray:
        """float64[S] SLO of each stream in ms; ``slo_x`` streams use
        ``slo_x * isolated_ms[model]`` (isolated batch-1 latency on the design)."""
        out = np.empty(len(self.streams))
        for i, s in enumerate(self.streams):
            if s.slo_ms is not None:
                out[i] = s.slo_ms
                continue
            if not isolated_ms or s.model not in isolated_ms:
                raise InputError(f"stream '{s.name}' gives its SLO as slo_x = {s.slo_x}: the "
                                 f"isolated latency of model '{s.model}' is needed",
                                 source=self.source, field=f"scenario.streams[{i}].slo_x")
            out[i] = s.slo_x * float(isolated_ms[s.model])
        return out

    # -- variants ----------------------------------------------------------------------
    def scaled(self, load_factor: float) -> Scenario:
        """The same scenario with every stream's rate times ``load_factor``."""
        if (isinstance(load_factor, bool) or not isinstance(load_factor, int | float)
                or not math.isfinite(load_factor) or load_factor <= 0):
            raise InputError(f"load factor must be a positive number, got {load_factor!r}",
                             field="load_factor")
        streams = tuple(dataclasses.replace(s, rate_rps=_rate_rps(s) * float(load_factor))
                        for s in self.streams)
        return dataclasses.replace(self, streams=streams)

    def replace_stream(self, key: int | str, **changes) -> Scenario:
        """A validated copy with stream ``key`` (index or name) changed, for example
        ``replace_stream("cam", exit_thresholds=[0.9, 0.8])``."""
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise InputError(f"expected a stream name or index, got {key!r}",
                             source=self.source, field="stream")
        if isinstance(key, int) and not 0 <= key < len(self.streams):
            raise InputError(f"stream index {key} out of range (0..{len(self.streams) - 1})",
                             source=self.source, field="stream")
        idx = key if isinstance(key, int) else self._index(key)
        table = self.to_dict()
        if changes.get("exit_thresholds") is not None and "exit_mode" not in changes:
            changes = {**changes, "exit_mode": "difficulty"}
        table["streams"][idx].update(changes)
        return Scenario.from_dict(table, source=self.source)

    def with_exit_shift(self, shift: float) -> Scenario:
        """The same scenario with every stream's exit profile (its own or its model's)
        moved later (``shift > 0``; 1 = no early exit) or earlier (``shift < 0``), see
        :func:`workloads.exits.shift_profile`.  Streams that set ``exit_thresholds`` pick
        their exits by threshold, so a shifted profile cannot apply to them: error."""
        streams = []
        for i, s in enumerate(self.streams):
            if s.exit_thresholds is not None:
                raise InputError(f"stream '{s.name}' sets exit_thresholds; an exit shift "
                                 "applies to exit profiles only", source=self.source,
                                 field=f"scenario.streams[{i}].exit_thresholds")
            profile = s.exit_profile if s.exit_profile is not None else get_model(s.model).exit_profile
            streams.append(dataclasses.replace(s, exit_profile=shift_profile(profile, shift)))
        return dataclasses.replace(self, streams=tuple(streams))

    def _index(self, name: str) -> int:
        names = self.stream_names
        if name not in names:
            raise InputError(f"unknown stream '{name}'{did_you_mean(name, names)}",
                             source=self.source, field="stream", allowed=names)
        return names.index(name)

    # -- the trace -----------------------------------------------------------------------
    def trace(self, n_requests: int, seed: int) -> Trace:
        """The first ``n_requests`` requests of the merged streams for ``seed``."""
        n_requests = check_requests(int(n_requests) if isinstance(n_requests, np.integer)
                                    else n_requests, field="n_requests")
        seed = check_seed(int(seed) if isinstance(seed, np.integer) else seed, field="seed")
        rates = self.rates_rps() / 1000.0                       # per ms
        horizon = n_requests / rates.sum() * 1.05 + 50.0 / rates.sum()
        finite = all(s.arrival == "trace" and not s.params["loop"] for s in self.streams)
        previous, first = -1, horizon
        while True:
            check_horizon(horizon / first, horizon, rates.sum(), n_requests, previous,
                          name=self.name, source=self.source)
            per_stream = []
            for s, r in zip(self.streams, rates, strict=True):
                rate = None if (s.arrival == "trace" and s.rate_rps is None) else r
                per_stream.append(ARRIVALS[s.arrival].sample(
                    stream_rng(seed, s.name, "arrivals"), rate, horizon, s.params))
            count = sum(t.size for t in per_stream)
            if count >= n_requests:
                break
            if finite and count == previous:
                raise InputError(f"the traces of scenario '{self.name}' hold only {count} "
                                 f"requests, {n_requests} asked for (set loop = true)",
                                 source=self.source, field="scenario.streams")
            previous, horizon = count, horizon * 2.0
        times = np.concatenate(per_stream)
        sid = np.concatenate([np.full(t.size, i, dtype=np.int32)
                              for i, t in enumerate(per_stream)])
        # streams are sorted runs: a stable timsort merges them, ties keep stream order
        order = np.argsort(times, kind="stable")[:n_requests]
        times, sid = times[order], sid[order]
        model_names = tuple(self.models)
        stream_model = np.array([model_names.index(s.model) for s in self.streams],
                                dtype=np.int32)
        exits = np.empty(n_requests, dtype=np.int32)
        acc = np.empty(n_requests, dtype=np.float64)
        for i, s in enumerate(self.streams):
            mask = sid == i
            u = stream_rng(seed, s.name, "exits").random(int(mask.sum()))
            exits[mask], acc[mask] = stream_exits(s, u)
        return Trace(arrival_ms=times, stream=sid, model=stream_model[sid], exit=exits,
                     accuracy=acc, stream_names=self.stream_names, model_names=model_names,
                     stream_model=stream_model)


def stream_rng(seed: int, stream: str, purpose: str) -> np.random.Generator:
    """A fresh generator for one stream's ``purpose`` ("arrivals" or "exits"), keyed only
    by ``(seed, crc32(stream name))``: common random numbers across designs."""
    root = np.random.SeedSequence([seed, zlib.crc32(stream.encode())])
    return np.random.default_rng(root.spawn(2)[0 if purpose == "arrivals" else 1])


def _rate_rps(s: Stream) -> float:
    if s.rate_rps is not None:
        return s.rate_rps
    return ARRIVALS[s.arrival].native_rate_rps(s.params)


#: Accepted ranges of the stream numbers (see dse.common.limits): requests/s, ms,
#: multiples of the isolated latency, the difficulty model's logistic slope.
_RANGES = {"rate_rps": (MIN_RATE_RPS, MAX_RATE_RPS), "slo_ms": (0.0, MAX_TIME_MS),
           "slo_x": (0.0, 1e6), "confidence_slope": (1e-2, 1e3)}


def _number(table, key, *, source, field, required=False, default=None):
    """A positive number (ms, requests/s, multiples) within ``_RANGES``, ``None`` when
    absent."""
    v = table.get(key, default)
    if v is None:
        if required:
            raise InputError("missing", source=source, field=field)
        return None
    low, high = _RANGES[key]
    return check_float(v, source=source, field=field, low=low, low_open=low == 0.0,
                       high=high, allowed=f"{'(' if low == 0.0 else '['}{low:g}, {high:g}]")


def _stream(t, i: int, *, source, base_dir, prefix) -> Stream:
    check_table(t, source=source, field=prefix.rstrip("."))
    arrival = check_choice(t.get("arrival", "poisson"), ARRIVALS, source=source,
                           field=f"{prefix}arrival", what="arrival process")
    proc = ARRIVALS[arrival]
    check_keys(t, (*STREAM_KEYS, *proc.params), source=source, prefix=prefix)
    name = check_str(t.get("name", f"stream{i}"), source=source, field=f"{prefix}name",
                     empty=False)
    if "model" not in t:
        raise InputError("missing (a zoo model name or a model .toml file)", source=source,
                         field=f"{prefix}model")
    model_name = t["model"]
    model = get_model(model_name, source=source, field=f"{prefix}model", base_dir=base_dir)
    if is_model_file(model_name):
        model_name = os.path.abspath(model_name if os.path.isabs(model_name) or not base_dir
                                     else os.path.join(base_dir, model_name))
    rate = _number(t, "rate_rps", source=source, field=f"{prefix}rate_rps",
                   required=proc.native_rate_rps is None)
    slo_ms = _number(t, "slo_ms", source=source, field=f"{prefix}slo_ms")
    slo_x = _number(t, "slo_x", source=source, field=f"{prefix}slo_x")
    if (slo_ms is None) == (slo_x is None):
        raise InputError("give exactly one of slo_ms (ms) and slo_x (multiple of the "
                         "isolated batch-1 latency)", source=source, field=f"{prefix}slo_ms")
    prio = check_int(t.get("priority", 0), source=source, field=f"{prefix}priority", low=0)
    params = proc.validate({k: v for k, v in t.items() if k in proc.params}, source=source,
                           prefix=prefix, base_dir=base_dir)
    profile = t.get("exit_profile")
    if profile is not None:
        if not isinstance(profile, list | tuple):
            raise InputError(f"expected a list of shares, got {profile!r}", source=source,
                             field=f"{prefix}exit_profile")
        check_profile(profile, model.n_exits, source=source, field=f"{prefix}exit_profile")
        profile = tuple(float(p) for p in profile)
    thresholds = t.get("exit_thresholds")
    mode = check_choice(t.get("exit_mode", "difficulty" if thresholds is not None else "profile"),
                        EXIT_MODES, source=source, field=f"{prefix}exit_mode", what="exit mode")
    if thresholds is not None:
        if mode != "difficulty":
            raise InputError("exit_thresholds need exit_mode = 'difficulty'", source=source,
                             field=f"{prefix}exit_thresholds")
        thresholds = check_thresholds(thresholds, model.n_exits, source=source,
                                      field=f"{prefix}exit_thresholds")
    slope = _number(t, "confidence_slope", source=source, field=f"{prefix}confidence_slope")
    return Stream(name=name, model=model_name, arrival=arrival, rate_rps=rate, slo_ms=slo_ms,
                  slo_x=slo_x, priority=prio, arrival_params=tuple(params.items()),
                  exit_mode=mode, exit_profile=profile, exit_thresholds=thresholds,
                  confidence_slope=slope)


def load_scenario(path: str) -> Scenario:
    """Read the ``[scenario]`` table of a TOML file."""
    path = str(path)
    return Scenario.from_dict(table(read_toml(path), "scenario", source=path), source=path)
