"""Reports of a study: Pareto dashboard, design export and re-evaluation.

Everything reads the Optuna storage (the single source of truth); per-design detail and
``dse evaluate`` re-simulate through ``dse.search.trial_metrics`` / ``dse.evaluate``.
See ``docs/report.md`` for the knee rule, the hypervolume normalisation and the
confidence intervals.
"""

from __future__ import annotations

from pathlib import Path

from dse.common import InputError
from dse.common.lazy import lazy_exports

# Names load on first use: reading a design file imports no plotting or search stack.
__getattr__ = lazy_exports(__name__, {
    **dict.fromkeys(("PICK_RULES", "pick"), "dse.report._pick"),
    **dict.fromkeys(("StudyData", "load_study", "read_study", "trial_area"),
                    "dse.report._study"),
    **dict.fromkeys(("compare_figure", "write_compare_figure"), "dse.report.compare"),
    **dict.fromkeys(("build_dashboard", "write_dashboard"), "dse.report.dashboard"),
    **dict.fromkeys(("DesignFile", "load_design", "read_npu"), "dse.report.design_file"),
    **dict.fromkeys(("evaluate_design", "flatten_numbers"), "dse.report.evaluate"),
    **dict.fromkeys(("DESIGN_SUFFIXES", "SCHEMA_VERSION", "check_out_path", "design_record",
                     "trials_frame", "write_design", "write_trials"), "dse.report.export"),
    **dict.fromkeys(("results_markdown", "write_reproduction"), "dse.report.reproduce"),
    **dict.fromkeys(("DashboardServer", "is_loopback", "study_fingerprint"),
                    "dse.report.server")})

__all__ = [
    "DESIGN_SUFFIXES", "PICK_RULES", "SCHEMA_VERSION", "DashboardServer", "DesignFile",
    "StudyData", "build_dashboard", "check_out_path", "compare_figure", "design_record",
    "evaluate_design", "export_design", "flatten_numbers", "load_design", "load_study",
    "is_loopback", "open_spec_study", "pick", "read_npu", "read_study", "study_fingerprint", "trial_area",
    "trials_frame", "write_compare_figure", "write_dashboard", "write_design",
    "write_reproduction", "results_markdown", "write_run_report", "write_trials",
]


def open_spec_study(spec, storage_url: str | None = None):
    """The stored study of a :class:`dse.spec.StudySpec` (never creates one)."""
    from dse.report._study import load_study

    return load_study(spec.name, storage_url or spec.storage_url)


def _spec_kwargs(spec) -> dict:
    return dict(scenario=spec.scenario, fidelity=spec.fidelity, seed=spec.seed)


def export_design(spec, study, path: str, *, trial: int | None = None,
                  rule: str | None = None, area_budget: float | None = None):
    """Pick a design of ``study`` and write it to ``path``; returns (trial, path)."""
    from dse.report._pick import pick
    from dse.report._study import read_study
    from dse.report.export import design_record, write_design

    data = read_study(study)
    chosen = pick(data, trial=trial, rule=rule, area_budget=area_budget)
    write_design(design_record(data, chosen, spec=spec), path)
    return chosen, path


def write_run_report(spec, study, folder, *, on_progress=None) -> tuple[str, str | None]:
    """Write ``dashboard.html`` and the knee design ``knee_design.toml`` into ``folder``
    (the study's results folder, ``dse.spec.results_folder``); returns their paths
    (design ``None`` when no design is feasible).  ``on_progress(done, total)`` follows
    the dashboard's steps.

    Called by ``dse run`` when a study finishes or is stopped.
    """
    from dse.report.dashboard import write_dashboard

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    dash = write_dashboard(study, str(out / "dashboard.html"), on_progress=on_progress,
                           **_spec_kwargs(spec))
    try:
        _, design = export_design(spec, study, str(out / "knee_design.toml"), rule="knee")
    except InputError:  # no complete feasible trial yet
        design = None
    return dash, design
