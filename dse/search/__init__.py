"""Optuna multi-objective search over NPU designs and scheduler thresholds.

Public API: :func:`run` (create/resume and run a study), :func:`open_study`,
:func:`run_worker`, :func:`status`, :func:`pareto_table`, the sampler registry
:data:`SAMPLERS`, :func:`trial_metrics` (the metrics a trial stores, for exact
re-evaluation), :func:`trial_scenario` (the scenario with a trial's searched exit
thresholds) and :func:`hypervolume`.
"""

from dse.search._front import hypervolume, pareto_mask
from dse.search._objective import (
    Objective,
    suggest_exits,
    suggest_point,
    trial_metrics,
    trial_scenario,
)
from dse.search._runner import RunResult, counts, open_study, run, run_worker, write_report
from dse.search._samplers import SAMPLERS, make_sampler
from dse.search._status import pareto_table, status
from dse.search._storage import open_storage, redact_url

__all__ = ["SAMPLERS", "Objective", "RunResult", "counts", "hypervolume", "make_sampler",
           "open_storage", "open_study", "pareto_mask", "pareto_table", "redact_url", "run",
           "run_worker", "status", "suggest_exits", "suggest_point", "trial_metrics",
           "trial_scenario", "write_report"]
