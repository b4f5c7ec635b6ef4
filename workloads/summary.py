"""Statistics of a drawn trace against its scenario (``dse workloads trace``)."""

from __future__ import annotations

import numpy as np

from dse.common import check_memory
from workloads.registry import get_model


def trace_summary(scenario, trace, window_ms: float = 1000.0) -> dict:
    """Per-stream statistics of a trace (the ``dse workloads trace --json`` object).
    Counting windows that would not fit the memory budget are refused (InputError)."""
    streams = []
    span = trace.duration_ms
    check_memory(span / window_ms * 16, f"counting {span / window_ms:.3g} windows of "
                 f"{window_ms:g} ms", field="window_ms")
    for i, s in enumerate(scenario.streams):
        mask = trace.stream == i
        t = trace.arrival_ms[mask]
        n_win = int(span // window_ms)
        counts = np.bincount((t[t < n_win * window_ms] // window_ms).astype(np.int64),
                             minlength=n_win) if n_win else np.zeros(0)
        idc = float(counts.var() / counts.mean()) if n_win >= 2 and counts.mean() > 0 else None
        n_exits = get_model(s.model).n_exits
        shares = np.bincount(trace.exit[mask], minlength=n_exits) / max(int(mask.sum()), 1)
        streams.append({
            "name": s.name, "model": s.model, "arrival": s.arrival,
            "requests": int(mask.sum()),
            "rate_rps": round(float(mask.sum()) / span * 1000.0, 3) if span > 0 else None,
            "specified_rate_rps": round(float(scenario.rates_rps()[i]), 3),
            "index_of_dispersion": None if idc is None else round(idc, 3),
            "exit_shares": [round(float(x), 4) for x in shares],
            "mean_accuracy": round(float(trace.accuracy[mask].mean()), 4) if mask.any() else None,
        })
    return {"scenario": scenario.name, "requests": len(trace),
            "duration_ms": round(span, 3), "window_ms": window_ms, "streams": streams}

