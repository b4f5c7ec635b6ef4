"""Spike trains: Poisson background plus spikes of ``spike_size`` near-simultaneous
requests (a crowd of devices waking up at once).

Spikes start as a Poisson process; each spike spreads its requests uniformly over
``spike_width_ms``.  A share ``spike_share`` of all requests belongs to spikes, so the
mean rate stays ``rate_rps``: spikes come at ``spike_share * rate / spike_size``.
"""

from __future__ import annotations

import numpy as np

from dse.common.limits import MAX_TIME_MS, MIN_DURATION_MS
from workloads.arrivals._base import ArrivalParam, ArrivalProcess, poisson_times


def _sample(rng: np.random.Generator, rate_per_ms, horizon_ms, p):
    share, size, width = p["spike_share"], p["spike_size"], p["spike_width_ms"]
    g_base, g_start, g_pos = rng.spawn(3)
    base = poisson_times(g_base, rate_per_ms * (1.0 - share), horizon_ms)
    # spikes may start before 0 so the process is stationary at t = 0
    starts = poisson_times(g_start, rate_per_ms * share / size, horizon_ms + width) - width
    spikes = np.repeat(starts, size) + g_pos.random(starts.size * size) * width
    spikes = spikes[(spikes >= 0.0) & (spikes < horizon_ms)]
    return np.sort(np.concatenate((base, spikes)))


PROCESS = ArrivalProcess(
    name="spikes",
    doc="Poisson background plus Poisson-timed spikes of spike_size requests spread over "
        "spike_width_ms; spike_share of the requests are in spikes; mean rate = rate_rps.",
    params={
        "spike_share": ArrivalParam("spike_share", "float", 0.5,
                                    "share of requests that arrive in spikes", low=0.0,
                                    high=1.0),
        "spike_size": ArrivalParam("spike_size", "int", 20, "requests per spike", low=1,
                                   high=10**6),
        "spike_width_ms": ArrivalParam("spike_width_ms", "float", 5.0,
                                       "duration over which a spike's requests arrive (ms)",
                                       low=MIN_DURATION_MS, high=MAX_TIME_MS),
    },
    sample=_sample,
)
