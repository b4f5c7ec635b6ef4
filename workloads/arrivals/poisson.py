"""Poisson arrivals: independent exponential gaps of mean ``1 / rate``."""

from workloads.arrivals._base import ArrivalProcess, poisson_times


def _sample(rng, rate_per_ms, horizon_ms, params):
    return poisson_times(rng, rate_per_ms, horizon_ms)


PROCESS = ArrivalProcess(
    name="poisson",
    doc="Poisson process: exponential inter-arrival gaps with mean 1/rate_rps.",
    params={},
    sample=_sample,
)
