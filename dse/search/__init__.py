"""Optuna multi-objective search over NPU designs and scheduler thresholds.

Public API: :func:`run` (create/resume and run a study in this process),
:func:`open_study`, :func:`run_worker`, :func:`status`, :func:`pareto_table`, the
sampler registry :data:`SAMPLERS`, :func:`trial_metrics` (the metrics a trial stores,
for exact re-evaluation), :func:`trial_scenario` (the scenario with a trial's searched
exit thresholds), :func:`hypervolume` and :func:`optimize` (in-memory black-box
optimisation with the catalogue samplers: policy tuning and co-design experiments).
Worker processes, signals and progress bars are the app layer's (``dse.cli``).
"""

from dse.evaluation import trial_metrics, trial_scenario
from dse.search._front import design_key, front_summary, hypervolume, pareto_designs, pareto_mask
from dse.search._index import TrialIndex
from dse.search._objective import Objective, suggest_exits, suggest_point
from dse.search._runner import (
    RunResult,
    counts,
    open_study,
    result,
    run,
    run_limits,
    run_worker,
)
from dse.search._samplers import SAMPLERS, Option, Sampler, make_sampler
from dse.search._status import closest_infeasible, pareto_table, slack, status, stored_metrics
from dse.search._storage import kind as storage_kind
from dse.search._storage import open_storage, redact_url, storage_failure
from dse.search._tune import optimize

__all__ = ["SAMPLERS", "Objective", "Option", "RunResult", "Sampler", "TrialIndex",
           "closest_infeasible", "counts", "design_key", "front_summary", "hypervolume",
           "make_sampler", "open_storage", "open_study", "optimize", "pareto_designs",
           "pareto_mask", "pareto_table", "redact_url", "result", "run", "run_limits",
           "run_worker", "slack", "status", "storage_failure", "storage_kind",
           "stored_metrics", "suggest_exits", "suggest_point", "trial_metrics",
           "trial_scenario"]
