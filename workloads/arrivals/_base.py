"""Arrival-process plumbing: declared parameters and the process record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dse.common import InputError, check_bool, check_choice, check_float, check_int, check_str


@dataclass(frozen=True)
class ArrivalParam:
    """One declared parameter of an arrival process (validated, documented)."""

    name: str
    kind: str                 # "float" | "int" | "bool" | "str"
    default: object           # None = required
    doc: str
    low: float | None = None  # inclusive bounds for numbers
    high: float | None = None
    low_open: bool = False    # True: value must be > low
    choices: tuple = ()

    def check(self, value, *, source: str | None, field: str):
        """The value typed, within its range and choices."""
        if self.kind == "float":
            value = check_float(value, source=source, field=field, low=self.low,
                                high=self.high, low_open=self.low_open,
                                allowed=self.range_text())
        elif self.kind == "int":
            value = check_int(value, source=source, field=field, low=self.low,
                              high=self.high, low_open=self.low_open,
                              allowed=self.range_text())
        elif self.kind == "bool":
            value = check_bool(value, source=source, field=field)
        else:
            value = check_str(value, source=source, field=field)
        if self.choices:
            check_choice(value, self.choices, source=source, field=field)
        return value

    def range_text(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open else '['}{lo}, {hi}]"


@dataclass(frozen=True)
class ArrivalProcess:
    """A named arrival process.

    ``sample(rng, rate_per_ms, horizon_ms, params) -> float64[n]``: sorted arrival times
    in ms within ``[0, horizon_ms)`` of one stream whose long-run mean rate is
    ``rate_per_ms``.  Samplers are *prefix-stable*: the arrivals before ``t`` do not depend
    on the horizon (use one child generator, ``rng.spawn``, per kind of draw), so a longer
    trace extends a shorter one.  ``native_rate_rps(params)`` (trace replay only) gives the rate of
    the process when the stream sets no ``rate_rps``.
    """

    name: str
    doc: str
    params: dict[str, ArrivalParam]
    sample: Callable[..., np.ndarray]
    native_rate_rps: Callable[[dict], float] | None = None
    resolve: Callable[[dict, str | None, str], dict] | None = field(default=None)

    def validate(self, table: dict, *, source: str | None, prefix: str,
                 base_dir: str | None = None) -> dict:
        """Typed parameters with defaults filled in (``table`` holds only param keys)."""
        out = {}
        for name, p in self.params.items():
            if name in table:
                out[name] = p.check(table[name], source=source, field=f"{prefix}{name}")
            elif p.default is None:
                raise InputError(f"arrival '{self.name}' needs parameter '{name}' ({p.doc})",
                                 source=source, field=f"{prefix}{name}")
            else:
                out[name] = p.default
        if self.resolve is not None:
            out = self.resolve(out, base_dir, source, prefix)
        return out


def seq_cumsum(t0: float, gaps: np.ndarray) -> np.ndarray:
    """``t0 + gaps[0]``, ``t0 + gaps[0] + gaps[1]``, ... added left to right (so chunked
    generation gives the same bits as one long draw)."""
    return np.cumsum(np.concatenate(([t0], gaps)))[1:]


def poisson_times(rng: np.random.Generator, rate_per_ms: float, horizon_ms: float) -> np.ndarray:
    """Homogeneous Poisson arrivals in ``[0, horizon_ms)`` (cumulated exponential gaps).

    Prefix-stable: the arrivals before ``t`` are the same for every horizon >= ``t``.
    """
    if rate_per_ms <= 0 or horizon_ms <= 0:
        return np.empty(0)
    mean = rate_per_ms * horizon_ms
    chunks, t = [], 0.0
    while True:
        n = int(mean + 6.0 * np.sqrt(mean) + 16)
        times = seq_cumsum(t, rng.standard_exponential(n) / rate_per_ms)
        chunks.append(times)
        t = float(times[-1])
        if t >= horizon_ms:
            break
        mean = rate_per_ms * (horizon_ms - t)
    times = np.concatenate(chunks)
    return times[: np.searchsorted(times, horizon_ms, side="left")]
