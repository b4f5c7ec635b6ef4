"""Black-box optimisation with the study samplers, in memory: policy tuning and the
co-design searches of ``dse reproduce`` (``dse.experiments`` passes its objectives here;
the experiments sit below the search layer, so the app layer hands them this function).

A dimension is a :class:`dse.sim.Param` (int / float / bool range, optionally log) or a
tuple of choices (categorical).  The objective maps a parameter dict to
``(values, constraints)``: one float per direction, and constraint values that are
feasible when ``<= 0`` (recorded with ``Trial.set_constraint``, which every
constraint-aware sampler reads).  Trials run in this process on Optuna's in-memory
storage; nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import optuna

from dse.search._runner import _quiet_optuna
from dse.search._samplers import SAMPLERS


def _suggest(trial, name: str, dim):
    if isinstance(dim, tuple | list):
        return trial.suggest_categorical(name, list(dim))
    if dim.kind == "bool":
        return trial.suggest_categorical(name, [False, True])
    if dim.kind == "int":
        return trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
    return trial.suggest_float(name, float(dim.low), float(dim.high), log=dim.log)


def optimize(objective: Callable[[dict], tuple], dims: dict, *, n_trials: int, seed: int,
             directions=("maximize",), sampler: str = "tpe", sampler_options=None,
             initial=(), on_trial: Callable[[], None] | None = None) -> list[dict]:
    """Run ``n_trials`` trials of ``objective`` over ``dims`` with the catalogue sampler
    ``sampler`` (seeded ``seed``); ``initial`` parameter dicts are evaluated first (for
    example the defaults).  Returns one record per trial, in order: ``params``,
    ``values``, ``constraints``, ``feasible``."""
    _quiet_optuna()
    spec = SimpleNamespace(sampler_options=dict(sampler_options or {}), space=None,
                           source="optimize")
    study = optuna.create_study(directions=list(directions),
                                sampler=SAMPLERS[sampler].factory(spec, int(seed)))
    for params in initial:
        study.enqueue_trial({k: v for k, v in params.items() if k in dims})
    out = []
    for _ in range(int(n_trials)):
        trial = study.ask()
        params = {name: _suggest(trial, name, dim) for name, dim in dims.items()}
        values, constraints = objective(params)
        for i, v in enumerate(constraints):
            trial.set_constraint(f"c{i}", float(v))
        study.tell(trial, [float(v) for v in values])
        out.append({"params": params, "values": tuple(float(v) for v in values),
                    "constraints": tuple(float(c) for c in constraints),
                    "feasible": all(c <= 0.0 for c in constraints)})
        if on_trial is not None:
            on_trial()
    return out
