"""Read a finished (or running) study from its Optuna storage into plain arrays.

Everything the reports show comes from the storage: trial values, the trial user attrs
(`npu`, `policy`, `policy_params`, `metrics`, `area_mm2`) and the study user attrs
(`spec`, `spec_hash`, `seed`, `dse_version`).  Feasibility follows Optuna's constraint
convention: a trial is feasible when every stored constraint value is <= 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import optuna

from dse.common import InputError, did_you_mean
from dse.search import pareto_designs


def _constraints(trial) -> dict:
    """Constraint values of a trial (Optuna's named ``trial.set_constraint`` format and the
    older list format)."""
    try:
        return dict(trial.constraints)
    except AttributeError:  # Optuna < 5
        values = trial.system_attrs.get("constraints") or ()
        return {str(i): v for i, v in enumerate(values)}


def _storage(url: str):
    """An Optuna storage for ``url`` that never creates a new database by accident."""
    from dse.search import open_storage

    with warnings.catch_warnings():  # Optuna flags its heartbeat options as experimental
        warnings.simplefilter("ignore")
        return open_storage(url, create=False)


def redact_url(url: str) -> str:
    """The storage URL with any password replaced by ``***`` (safe to print)."""
    from dse.search import redact_url as _redact

    return _redact(url)


def load_study(study_name: str, storage_url: str) -> optuna.Study:
    """Load an existing study; unknown names raise :class:`InputError` with suggestions."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(storage_url)
    try:
        names = optuna.get_all_study_names(storage)
    except Exception as exc:  # unreachable server, corrupt file, wrong schema
        from dse.search import storage_failure

        raise storage_failure(exc, storage_url) from None
    if study_name not in names:
        raise InputError(f"no study named '{study_name}' in {redact_url(storage_url)}"
                         f"{did_you_mean(study_name, names)}",
                         source="storage", field="study", allowed=names or "(none stored)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.load_study(study_name=study_name, storage=storage)


def is_area(name: str) -> bool:
    return "area" in name.lower()


@dataclass
class StudyData:
    """A study's complete trials as arrays (row i is ``trials[i]``)."""

    name: str
    metric_names: list[str]
    directions: list[str]  # "maximize" | "minimize"
    user_attrs: dict
    trials: list  # optuna FrozenTrial, state COMPLETE, ordered by number
    values: np.ndarray  # (n, m) objective values as stored
    feasible: np.ndarray  # (n,) bool
    pareto: np.ndarray  # (n,) bool: the Pareto designs (dse.search.pareto_designs)
    area: np.ndarray  # (n,) mm2, user attr area_mm2.total (nan if absent)
    counts: dict = field(default_factory=dict)  # trial state name -> count

    @property
    def numbers(self) -> np.ndarray:
        return np.array([t.number for t in self.trials], dtype=np.int64)

    @property
    def slo_index(self) -> int:
        """Index of the primary quality objective: the first objective not about area."""
        for i, name in enumerate(self.metric_names):
            if not is_area(name):
                return i
        return 0

    @property
    def area_index(self) -> int | None:
        for i, name in enumerate(self.metric_names):
            if is_area(name):
                return i
        return None

    def minimised(self) -> np.ndarray:
        """Objective values turned into minimisation (maximised ones negated)."""
        sign = np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])
        return self.values * sign

    def trial(self, number: int):
        for t in self.trials:
            if t.number == number:
                return t
        return None


def _metric_names(study: optuna.Study) -> list[str]:
    names = study.metric_names
    if names:
        return list(names)
    return [f"objective_{i}" for i in range(len(study.directions))]


def read_study(study: optuna.Study) -> StudyData:
    """Snapshot a study: complete trials, feasibility, Pareto mask, areas."""
    all_trials = study.get_trials(deepcopy=False)
    counts: dict[str, int] = {}
    for t in all_trials:
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    trials = sorted((t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE
                     and t.values is not None), key=lambda t: t.number)
    directions = ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize"
                  for d in study.directions]
    m = len(directions)
    values = np.array([list(t.values) for t in trials], dtype=np.float64).reshape(len(trials), m)
    feasible = np.array([all(c <= 0.0 for c in _constraints(t).values()) for t in trials],
                        dtype=bool)
    feasible &= np.all(np.isfinite(values), axis=1)
    data = StudyData(
        name=study.study_name, metric_names=_metric_names(study), directions=directions,
        user_attrs=dict(study.user_attrs), trials=trials, values=values, feasible=feasible,
        pareto=np.zeros(len(trials), dtype=bool),
        area=np.array([float((t.user_attrs.get("area_mm2") or {}).get("total", np.nan))
                       for t in trials], dtype=np.float64),
        counts=counts)
    data.pareto[pareto_designs(trials, directions)] = True
    return data


def trial_area(data: StudyData) -> np.ndarray:
    """Area per trial in mm2: the area objective if there is one, else the user attr."""
    ai = data.area_index
    if ai is not None:
        return data.values[:, ai].copy()
    return data.area.copy()
