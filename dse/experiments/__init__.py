"""Experiments over the simulator: named, reusable studies that return data.

:func:`compare` / :func:`tuned_compare` (``dse compare``): every policy on one design
across load levels, capacity-fair (:mod:`~dse.experiments.fairness`), on common random
numbers, defaults or tuned (:mod:`~dse.experiments.tuning`).  Figures of the results live
in :mod:`dse.report`; the CLI only parses arguments and prints.  Experiments that search
(tuning, co-design) take the optimiser as an argument (``dse.search.optimize``): the
search layer sits above this one.
"""

from dse.experiments.compare import (
    ARRIVALS,
    DEFAULT_SLO_X,
    LOADS,
    Comparison,
    compare,
    model_workloads,
    scenario_workloads,
    single_stream,
    tuned_compare,
)
from dse.experiments.fairness import (
    capacity_rps,
    fair_params,
    held_equal,
    samples_in_flight,
    scenario_capacity_rps,
    spike_params,
)
from dse.experiments.tuning import TUNE_BUDGET, held_out_seeds, tune, tuning_dims, tuning_seeds

__all__ = ["ARRIVALS", "DEFAULT_SLO_X", "LOADS", "TUNE_BUDGET", "Comparison", "capacity_rps",
           "compare", "fair_params", "held_equal", "held_out_seeds", "model_workloads",
           "samples_in_flight", "scenario_capacity_rps", "scenario_workloads",
           "single_stream", "spike_params", "tune", "tuned_compare", "tuning_dims",
           "tuning_seeds"]
