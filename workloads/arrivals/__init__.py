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
for _m in _MODULES:
    _p = importlib.import_module(_m).PROCESS
    ARRIVALS[_p.name] = _p

__all__ = ["ARRIVALS", "ArrivalParam", "ArrivalProcess", "poisson_times"]
