"""The merged request trace of a scenario: the simulator's common-random-numbers input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
