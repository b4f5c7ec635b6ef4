"""Sampler registry: name -> factory ``(spec, seed) -> optuna.samplers.BaseSampler``.

Constraints are recorded per trial with ``Trial.set_constraint`` (Optuna 5), which every
constraint-aware sampler (NSGA-II, TPE, GP) reads from the trial system attrs, so no
``constraints_func`` is passed here.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from dse.common import InputError

SamplerFactory = Callable[[object, int], optuna.samplers.BaseSampler]


def _nsga2(spec, seed: int) -> optuna.samplers.BaseSampler:
    from dse.search._nsga2 import DesignNSGAIISampler

    return DesignNSGAIISampler(seed=seed, **spec.sampler_options)


def _tpe(spec, seed: int) -> optuna.samplers.BaseSampler:
    opts = dict(spec.sampler_options)
    opts.setdefault("multivariate", True)
    return optuna.samplers.TPESampler(seed=seed, **opts)


def _gp(spec, seed: int) -> optuna.samplers.BaseSampler:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise InputError("the gp sampler needs PyTorch (pip install torch)",
                         source=spec.source, field="study.sampler",
                         allowed="nsga2, tpe, random, grid") from None
    return optuna.samplers.GPSampler(seed=seed, **spec.sampler_options)


def _random(spec, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def _grid(spec, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler(spec.space.grid(spec.source), seed=seed)


#: Registry of samplers by spec name.
SAMPLERS: dict[str, SamplerFactory] = {
    "nsga2": _nsga2,
    "tpe": _tpe,
    "gp": _gp,
    "random": _random,
    "grid": _grid,
}


def make_sampler(spec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler; worker ``i`` is seeded ``seed + i`` (worker 0 = the spec seed)."""
    return SAMPLERS[spec.sampler](spec, spec.seed + worker)
