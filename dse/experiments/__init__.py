"""Experiments over the simulator: named, reusable studies that return data.

:func:`compare` (``dse compare``): every policy on one design across load levels, on
common random numbers.  Figures of the results live in :mod:`dse.report`; the CLI only
parses arguments and prints.
"""

from dse.experiments.compare import (
    ARRIVALS,
    LOADS,
    Comparison,
    capacity_rps,
    compare,
    model_workloads,
    single_stream,
)

__all__ = ["ARRIVALS", "LOADS", "Comparison", "capacity_rps", "compare", "model_workloads",
           "single_stream"]
