"""Arrival processes, by name.

Adding one is a module defining ``PROCESS = ArrivalProcess(...)`` (name, doc, declared
parameters, vectorised ``sample``) plus one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib

from workloads.arrivals._base import ArrivalParam, ArrivalProcess, poisson_times

_MODULES = (
    "workloads.arrivals.poisson",
    "workloads.arrivals.bursty",
    "workloads.arrivals.spikes",
    "workloads.arrivals.periodic",
    "workloads.arrivals.diurnal",
    "workloads.arrivals.trace",
)

ARRIVALS: dict[str, ArrivalProcess] = {}


def register(process: ArrivalProcess) -> ArrivalProcess:
    """Add an arrival process to :data:`ARRIVALS` (names are unique)."""
    if process.name in ARRIVALS:
        raise ValueError(f"arrival process {process.name!r} registered twice")
    ARRIVALS[process.name] = process
    return process


for _m in _MODULES:
    register(importlib.import_module(_m).PROCESS)

__all__ = ["ARRIVALS", "ArrivalParam", "ArrivalProcess", "poisson_times", "register"]
