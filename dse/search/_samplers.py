"""The sampler catalogue: name, options (types and ranges) and factory of each sampler.

The study spec validates ``study.sampler`` and ``study.sampler_options`` against it;
:func:`make_sampler` builds the Optuna sampler.  Constraints are recorded per trial with
``Trial.set_constraint`` (Optuna 5), which every constraint-aware sampler (NSGA-II, TPE,
GP) reads from the trial system attrs, so no ``constraints_func`` is passed here.
Adding a sampler is one factory plus one entry in :data:`SAMPLERS`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dse.common import InputError, check_bool, check_float, check_int

if TYPE_CHECKING:  # the catalogue is read without Optuna; the factories import it
    import optuna


@dataclass(frozen=True)
class Option:
    """One sampler option: ``kind`` "int" | "float" | "bool", inclusive bounds, and the
    default when the spec does not set it (as text: some defaults depend on the study)."""

    name: str
    kind: str
    default: str
    doc: str
    low: float | None = None
    high: float | None = None

    def check(self, value, *, source: str | None, field: str):
        if self.kind == "bool":
            return check_bool(value, source=source, field=field)
        checker = check_int if self.kind == "int" else check_float
        return checker(value, source=source, field=field, low=self.low, high=self.high)


@dataclass(frozen=True)
class Sampler:
    """A registered sampler: ``factory(spec, seed) -> optuna.samplers.BaseSampler``;
    ``requires`` names a module it needs that is not a core dependency, ``install`` says
    how to get it."""

    name: str
    doc: str
    factory: Callable[[object, int], optuna.samplers.BaseSampler]
    options: dict[str, Option] = field(default_factory=dict)
    requires: str = ""
    install: str = ""

    def missing(self) -> str | None:
        """Why the sampler cannot run here (``None`` when it can)."""
        if self.requires and importlib.util.find_spec(self.requires) is None:
            return f"the {self.name} sampler needs {self.install}"
        return None


def _nsga2(spec, seed: int) -> optuna.samplers.BaseSampler:
    from dse.search._nsga2 import DesignNSGAIISampler

    return DesignNSGAIISampler(seed=seed, **spec.sampler_options)


def _tpe(spec, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    opts = dict(spec.sampler_options)
    opts.setdefault("multivariate", True)
    return optuna.samplers.TPESampler(seed=seed, **opts)


def _gp(spec, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.GPSampler(seed=seed, **spec.sampler_options)


def _random(spec, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _grid(spec, seed: int) -> optuna.samplers.BaseSampler:
    from dse.search._optuna_compat import SharedGridSampler

    # every worker shuffles the grid alike (the spec's seed), so that a point is one trial
    return SharedGridSampler(spec.space.grid(spec.source), seed=spec.seed)


def _prob(name: str, default: str, doc: str) -> Option:
    return Option(name, "float", default, doc, 0.0, 1.0)


_STARTUP = Option("n_startup_trials", "int", "10", "random trials before the model", 0)

#: Registry of samplers by spec name.
SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("nsga2", "NSGA-II with unique-objective elites and local search around the "
                     "front (docs/studies.md)", _nsga2, {o.name: o for o in (
        Option("population_size", "int", "10", "individuals per generation", 2),
        _prob("local_search_prob", "0.9", "share of children that are one-parameter moves "
                                          "from the front"),
        _prob("mutation_prob", "1 / parameters", "per-parameter re-sampling probability"),
        _prob("crossover_prob", "0.9", "probability of a crossover child"),
        _prob("swapping_prob", "0.5", "per-parameter probability of the second parent"),
    )}),
    Sampler("tpe", "Optuna's multivariate TPE", _tpe, {o.name: o for o in (
        _STARTUP,
        Option("n_ei_candidates", "int", "24", "candidates scored per trial", 1),
        Option("multivariate", "bool", "true", "model parameters jointly"),
    )}),
    Sampler("gp", "Optuna's Gaussian-process sampler (needs PyTorch)", _gp,
            {_STARTUP.name: _STARTUP}, requires="torch", install="PyTorch (pip install torch)"),
    Sampler("random", "uniform random sampling", _random),
    Sampler("grid", "every point of a finite space once (exhaustive ground truth)", _grid),
)}


def make_sampler(spec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """The spec's sampler; worker ``i`` is seeded ``seed + i`` (worker 0 = the spec seed).

    Every sampler but the grid (which visits each point once by construction) is wrapped
    in :class:`~dse.search._unique.UniqueSampler`: it never proposes a design the study
    already holds while the space has a new one."""
    from dse.search._unique import UniqueSampler

    sampler = SAMPLERS[spec.sampler]
    why = sampler.missing()
    if why:
        raise InputError(why, source=spec.source, field="study.sampler")
    seed = (spec.seed + worker) % 2**32  # Optuna takes 32-bit seeds
    inner = sampler.factory(spec, seed)
    if spec.sampler == "grid":
        return inner
    return UniqueSampler(inner, spec.space, seed)
