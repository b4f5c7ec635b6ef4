"""The merged request trace of a scenario: the simulator's common-random-numbers input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dse.common import InputError, check_memory
from dse.common.limits import MAX_TIME_MS

MAX_STRETCH = 1024  # a trace may take this many times the time its mean rates need
_DRAW_BYTES = 64  # per expected arrival draw: times, sort copies, on/off or spike draws


def check_horizon(stretch: float, horizon: float, rate_per_ms: float, n_requests: int,
                  found: int, *, name: str, source: str | None) -> None:
    """Refuse drawing ``n_requests`` over ``horizon`` ms when that spans more than
    ``MAX_TIME_MS`` (float64 times would lose sub-microsecond resolution), when the
    expected draws do not fit the memory budget, or when the horizon is ``stretch`` >
    ``MAX_STRETCH`` times what the mean rates need and only ``found`` requests came out
    (arrival parameters that keep most draws out of the window, e.g. a jitter far
    longer than the period)."""
    if horizon > MAX_TIME_MS:
        raise InputError(f"{n_requests} requests at {rate_per_ms * 1000:.3g} requests/s "
                         f"need {horizon:.3g} ms of simulated time, more than "
                         f"{MAX_TIME_MS:g} ms", source=source,
                         field="scenario.streams[*].rate_rps",
                         allowed=f"<= {MAX_TIME_MS:g} ms: fewer requests or a higher rate")
    if stretch > MAX_STRETCH:
        raise InputError(f"the streams of scenario '{name}' give only {found} of "
                         f"{n_requests} requests in {horizon / 2:.3g} ms, "
                         f"{MAX_STRETCH // 2}x the time their rates need: arrival parameters "
                         "that put most arrivals outside the window (e.g. a jitter far "
                         "longer than the period)?", source=source, field="scenario.streams")
    check_memory(rate_per_ms * horizon * _DRAW_BYTES,
                 f"drawing {n_requests} requests over {horizon:.3g} ms", source=source,
                 field="scenario.streams")


@dataclass(frozen=True, eq=False)
class Trace:
    """N requests sorted by arrival (ties: by stream index).

    ``arrival_ms`` float64[N]; ``stream`` int32[N] (index into ``stream_names``);
    ``model`` int32[N] (index into ``model_names``); ``exit`` int32[N] (exit index the
    request leaves at); ``accuracy`` float64[N] (probability its answer is right, from its
    exit); ``stream_model`` int32[S] (model index of each stream).  Treat the arrays as
    read-only: one trace is shared by every design a study evaluates.
    """

    arrival_ms: np.ndarray
    stream: np.ndarray
    model: np.ndarray
    exit: np.ndarray
    accuracy: np.ndarray
    stream_names: tuple[str, ...]
    model_names: tuple[str, ...]
    stream_model: np.ndarray

    def __len__(self) -> int:
        return int(self.arrival_ms.size)

    @property
    def n_requests(self) -> int:
        return len(self)

    @property
    def duration_ms(self) -> float:
        return float(self.arrival_ms[-1]) if len(self) else 0.0

    def exit_shares(self, stream: int) -> np.ndarray:
        """Observed share of stream ``stream``'s requests leaving at each exit."""
        ex = self.exit[self.stream == stream]
        n_exits = int(self.exit.max()) + 1 if len(self) else 0
        counts = np.bincount(ex, minlength=n_exits).astype(np.float64)
        return counts / max(ex.size, 1)

    def to_frame(self):
        """The trace as a pandas DataFrame (names instead of indices)."""
        import pandas as pd

        return pd.DataFrame({
            "arrival_ms": self.arrival_ms,
            "stream": np.asarray(self.stream_names, dtype=object)[self.stream],
            "model": np.asarray(self.model_names, dtype=object)[self.model],
            "exit": self.exit, "accuracy": self.accuracy,
        })
