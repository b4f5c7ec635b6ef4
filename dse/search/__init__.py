"""Optuna multi-objective search over NPU designs and scheduler thresholds.

Public API: :func:`run` (create/resume and run a study in this process),
:func:`open_study`, :func:`run_worker`, :func:`status`, :func:`pareto_table`, the
sampler registry :data:`SAMPLERS`, :func:`trial_metrics` (the metrics a trial stores,
for exact re-evaluation), :func:`trial_scenario` (the scenario with a trial's searched
exit thresholds), :func:`hypervolume` and :func:`optimize` (in-memory black-box
optimisation with the catalogue samplers: policy tuning and co-design experiments).
Worker processes, signals and progress bars are the app layer's (``dse.cli``).
"""

from dse.common.lazy import lazy_exports

# Names load on first use: the sampler catalogue (spec validation) without Optuna's
# samplers, pandas or the simulator.
__getattr__ = lazy_exports(__name__, {
    "trial_metrics": "dse.evaluation", "trial_scenario": "dse.evaluation",
    **dict.fromkeys(("design_key", "front_summary", "hypervolume", "pareto_designs",
                     "pareto_mask"), "dse.search._front"),
    "TrialIndex": "dse.search._index",
    **dict.fromkeys(("Objective", "suggest_exits", "suggest_point"), "dse.search._objective"),
    **dict.fromkeys(("RunResult", "counts", "open_study", "result", "run", "run_limits",
                     "run_worker"), "dse.search._runner"),
    **dict.fromkeys(("SAMPLERS", "Option", "Sampler", "make_sampler"), "dse.search._samplers"),
    **dict.fromkeys(("closest_infeasible", "pareto_table", "slack", "status",
                     "stored_metrics"), "dse.search._status"),
    "storage_kind": "dse.search._storage:kind",
    **dict.fromkeys(("open_storage", "redact_url", "storage_failure"), "dse.search._storage"),
    "optimize": "dse.search._tune"})

__all__ = ["SAMPLERS", "Objective", "Option", "RunResult", "Sampler", "TrialIndex",
           "closest_infeasible", "counts", "design_key", "front_summary", "hypervolume",
           "make_sampler", "open_storage", "open_study", "optimize", "pareto_designs",
           "pareto_mask", "pareto_table", "redact_url", "result", "run", "run_limits",
           "run_worker", "slack", "status", "storage_failure", "storage_kind",
           "stored_metrics", "suggest_exits", "suggest_point", "trial_metrics",
           "trial_scenario"]
