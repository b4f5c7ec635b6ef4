"""Replay of a recorded trace: a CSV file with a ``timestamp`` column (and optionally a
``stream`` column selecting rows for this stream).

Timestamps are in ``time_unit`` from the start of the recording, non-decreasing.  The
recording has a length of its last timestamp plus one mean gap; with ``loop = true``
(default) it repeats back to back to cover longer simulations.  Without a ``rate_rps``
the stream replays at the recorded rate; with one, time is compressed or stretched so
the mean rate is ``rate_rps`` (so load sweeps scale recorded traces too).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from dse.common import InputError
from dse.common.files import check_input_file
from dse.common.limits import MAX_TIME_MS
from workloads.arrivals._base import ArrivalParam, ArrivalProcess

_UNIT_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3}


@functools.lru_cache(maxsize=32)
def _read(path: str, mtime: float, stream: str, unit: str, source: str | None,
          field: str) -> tuple[np.ndarray, float]:
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype={"stream": str}, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"trace file '{path}' is empty", source=source, field=field) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        # the reason only (its type): the file may be anything, its text is never quoted
        raise InputError(f"cannot read trace file '{path}' as CSV ({type(exc).__name__})",
                         source=source, field=field) from None
    if "timestamp" not in df.columns:
        raise InputError(f"trace file '{path}' has no 'timestamp' column in its header "
                         "line", source=source, field=field, allowed="timestamp, stream")
    if stream:
        if "stream" not in df.columns:
            raise InputError(f"trace file '{path}' has no 'stream' column to select "
                             f"'{stream}' from", source=source, field=field)
        df = df[df["stream"].astype(str).str.strip() == stream]
    ts = pd.to_numeric(df["timestamp"], errors="coerce").to_numpy(dtype=np.float64)
    where = f" for stream '{stream}'" if stream else ""
    if ts.size == 0:
        raise InputError(f"trace file '{path}' has no requests{where}", source=source,
                         field=field)
    bad = np.flatnonzero(~np.isfinite(ts))
    if bad.size:
        raise InputError(f"trace file '{path}': timestamp of data row {bad[0] + 1}{where} is "
                         "not a number", source=source, field=field)
    with np.errstate(over="ignore"):  # an overflow to inf is refused just below
        ts = ts * _UNIT_MS[unit]
    late = np.flatnonzero(~(ts <= MAX_TIME_MS))
    if late.size:
        raise InputError(f"trace file '{path}': timestamp of data row {late[0] + 1}{where} "
                         f"is beyond {MAX_TIME_MS:g} ms", source=source, field=field,
                         allowed=f"0..{MAX_TIME_MS:g} ms")
    if ts[0] < 0:
        raise InputError(f"trace file '{path}': negative timestamp {ts[0]:g}{where}",
                         source=source, field=field)
    down = np.flatnonzero(np.diff(ts) < 0)
    if down.size:
        raise InputError(f"trace file '{path}' is not sorted by timestamp: data row "
                         f"{down[0] + 2}{where} goes back in time", source=source, field=field)
    gap = (ts[-1] - ts[0]) / (ts.size - 1) if ts.size > 1 else max(ts[0], 1.0)
    length = ts[-1] + max(gap, 1e-9)
    ts.setflags(write=False)
    return ts, length


def load(p: dict, source: str | None = None, field: str = "path") -> tuple[np.ndarray, float]:
    """(timestamps in ms, recording length in ms) for the parameters ``p``."""
    path = check_input_file(p["path"], source=source, field=field, what="trace file")
    return _read(path, os.path.getmtime(path), p["stream"], p["time_unit"], source, field)


def _native_rate_rps(p: dict) -> float:
    ts, length = load(p)
    return ts.size / length * 1000.0


def _resolve(p: dict, base_dir: str | None, source: str | None, prefix: str) -> dict:
    p = dict(p)
    path = os.path.expanduser(p["path"])
    if not os.path.isabs(path) and base_dir:
        path = os.path.join(base_dir, path)
    p["path"] = os.path.abspath(path)
    load(p, source, f"{prefix}path")            # validate now: one-line error at load time
    return p


def _sample(rng, rate_per_ms, horizon_ms, p):
    ts, length = load(p)
    scale = 1.0
    if rate_per_ms is not None:
        scale = (ts.size / length) / rate_per_ms   # > 1 stretches time (lower rate)
    ts, length = ts * scale, length * scale
    if not p["loop"]:
        return ts[ts < horizon_ms]
    reps = int(np.ceil(horizon_ms / length))
    times = (ts[None, :] + length * np.arange(reps)[:, None]).ravel()
    return times[times < horizon_ms]


PROCESS = ArrivalProcess(
    name="trace",
    doc="Replay of a CSV trace (columns timestamp[, stream]); loops by default; rate_rps "
        "optional (rescales time).",
    params={
        "path": ArrivalParam("path", "str", None,
                             "CSV file, relative to the scenario file"),
        "stream": ArrivalParam("stream", "str", "",
                               "only rows whose 'stream' column equals this ('' = all)"),
        "time_unit": ArrivalParam("time_unit", "str", "ms", "unit of the timestamps",
                                  choices=tuple(_UNIT_MS)),
        "loop": ArrivalParam("loop", "bool", True,
                             "repeat the recording to cover longer simulations"),
    },
    sample=_sample,
    native_rate_rps=_native_rate_rps,
    resolve=_resolve,
)
