"""Samplers spend the budget on new designs: no proposal of a design the study holds.

A trial whose parameters equal those of a stored trial costs a trial of ``n_trials`` and
adds nothing (the simulation is deterministic on the common traces, so the objective
copies the stored result).  :class:`UniqueSampler` wraps a sampler so that it proposes a
design the study does not hold, as long as there is one:

* At a trial's first suggestion (where Optuna asks for the relative sample) the wrapper
  also draws the values the wrapped sampler would give every other searched parameter
  (``Space.searched``: the NPU dimensions, the policy, that policy's parameters, the
  exit thresholds), with the same calls in the order the trial makes them, so the whole
  design is known before any of it is stored.  A held design is drawn again (up to
  :data:`MAX_TRIES` times), then replaced by a one-parameter neighbour the study does
  not hold, else by a random new point.
* A proposal that is new is returned untouched, with no extra random draws, so a study
  that never meets a held design gives exactly the trials of the wrapped sampler.

"Held" designs are the parameter sets of every trial of the study except FAIL trials
that were not evaluated (a surplus or crashed trial; invalid designs are held: they are
evaluated, as invalid).  When a finite space holds no new design the study is exhausted
(:meth:`UniqueSampler.is_exhausted`); the worker loop then stops and says so.
"""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from dse.search import _optuna_compat as compat
from dse.search._index import params_key

#: Draws of the wrapped sampler before a held proposal is replaced.
MAX_TRIES = 10


class HeldDesigns:
    """The parameter sets a study holds, updated incrementally from its trials (a
    finished trial never changes; unfinished ones are looked at again)."""

    def __init__(self):
        self._done: set[tuple] = set()     # keys of finished trials that hold a design
        self._open: dict[int, tuple] = {}  # number -> key, unfinished trials
        self._n = 0                        # trials numbered < _n have been looked at

    def update(self, trials: list) -> HeldDesigns:
        """Take in ``trials`` (all trials of the study, by number)."""
        for number in list(self._open):
            t = trials[number]
            if t.state.is_finished():
                del self._open[number]
                self._finish(t)
            else:
                self._open[number] = params_key(t.params)
        for t in trials[self._n:]:
            if t.state.is_finished():
                self._finish(t)
            else:
                self._open[t.number] = params_key(t.params)
        self._n = max(self._n, len(trials))
        return self

    def _finish(self, t) -> None:
        if t.state != TrialState.FAIL or "invalid_design" in t.user_attrs:
            self._done.add(params_key(t.params))

    def holds(self, params: dict, number: int = -1) -> bool:
        """Whether a trial other than ``number`` holds exactly ``params``."""
        key = params_key(params)
        if key in self._done:
            return True
        return any(k == key for n, k in self._open.items() if n != number)

    def __len__(self) -> int:
        return len(self._done)


def count_designs(space, limit: int = 10 ** 9) -> int | None:
    """Number of distinct points (parameter sets) of a finite ``dse.spec.Space``;
    ``None`` when a dimension is continuous or the count exceeds ``limit``."""
    total = 0
    for policy in space.policy.values:
        n = 1
        for dim in space.searched(policy).values():
            if dim is space.policy:
                continue
            found = dim.candidates(limit=limit)
            if found is None:
                return None
            n *= len(found)
            if n > limit:
                return None
        total += n
    return total if total <= limit else None


def _values(dist) -> list | None:
    """Every value of a finite distribution (``None`` for a continuous one)."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    step = dist.step if dist.step is not None else (1 if isinstance(dist, IntDistribution)
                                                    else None)
    if step is None or dist.log and isinstance(dist, FloatDistribution):
        return None
    n = int(round((dist.high - dist.low) / step)) + 1
    if isinstance(dist, IntDistribution):
        return [int(dist.low + i * step) for i in range(n)]
    return [min(round(dist.low + i * step, 12), dist.high) for i in range(n)]


class UniqueSampler(optuna.samplers.BaseSampler):
    """``sampler`` that never proposes a design the study holds (module docstring).
    The wrapped sampler reads the trials once per trial (``_optuna_compat.read_once``).

    ``space`` is the spec's ``Space``; ``seed`` seeds the replacement draws."""

    def __init__(self, sampler: optuna.samplers.BaseSampler, space, seed: int | None):
        self._inner = sampler
        self._space = space
        self._rng = np.random.RandomState(seed)
        self._held = HeldDesigns()
        self._plans: dict[int, dict] = {}  # trial number -> its independent values
        self._size = count_designs(space)
        self.replaced = 0  # proposals that were held (for benchmarks and tests)

    @property
    def inner(self) -> optuna.samplers.BaseSampler:
        return self._inner

    @property
    def space_size(self) -> int | None:
        """Number of designs of a finite space (``None``: continuous or too many)."""
        return self._size

    def _draw(self, study, trial, search_space) -> tuple[dict, dict, dict]:
        """The wrapped sampler's proposal for the whole trial: ``(relative sample,
        independent values in suggestion order, name -> distribution)``."""
        study = compat.read_once(study)
        rel = self._inner.sample_relative(study, trial, search_space)
        point = {**trial.params, **rel}
        planned: dict = {}
        if "policy" not in point and self._space.policy.kind != "fixed":
            dist = self._space.policy.distribution()
            planned["policy"] = self._inner.sample_independent(study, trial, "policy", dist)
        policy = {**point, **planned}.get("policy", self._space.policy.values[0])
        dims = {n: d.distribution() for n, d in self._space.searched(policy).items()}
        for name, dist in dims.items():
            if name not in point and name not in planned:
                planned[name] = self._inner.sample_independent(study, trial, name, dist)
        return rel, planned, dims

    def infer_relative_search_space(self, study, trial):
        return self._inner.infer_relative_search_space(compat.read_once(study), trial)

    def sample_relative(self, study, trial, search_space):
        """The relative sample; the values ``sample_independent`` will return for the
        rest of the trial are drawn here too (same calls, same order as the trial would
        make), so the whole design is known and checked before any of it is stored."""
        if "fixed_params" in trial.system_attrs:  # an enqueued or retried trial
            return self._inner.sample_relative(compat.read_once(study), trial, search_space)
        rel, planned, dims = self._draw(study, trial, search_space)
        held = self._held.update(compat.trials_of_this_trial(study))
        tries = 1
        while held.holds({**trial.params, **rel, **planned}, trial.number) and \
                tries < MAX_TRIES:
            rel, planned, dims = self._draw(study, trial, search_space)
            tries += 1
        point = {**trial.params, **rel, **planned}
        if held.holds(point, trial.number):
            self.replaced += 1
            point = self._replace(point, dims, held, trial.number)
            rel = {k: point[k] for k in rel}
            planned = {k: v for k, v in point.items() if k not in rel}
        self._plans[trial.number] = planned
        return rel

    def sample_independent(self, study, trial, param_name, param_distribution):
        planned = self._plans.get(trial.number, {})
        if param_name in planned:
            value = planned[param_name]
            if param_distribution._contains(param_distribution.to_internal_repr(value)):
                return value
        return self._inner.sample_independent(compat.read_once(study), trial, param_name,
                                              param_distribution)

    def _replace(self, point: dict, dims: dict, held: HeldDesigns, number: int) -> dict:
        """A design near ``point`` that the study does not hold: a one-parameter
        neighbour, else a random new point of the finite dimensions (``point`` itself
        when there is none)."""
        names = [n for n in dims if n != "policy"]
        neighbours = [{**point, name: v} for name in names
                      for v in (_values(dims[name]) or []) if v != point[name]]
        neighbours = [c for c in neighbours if not held.holds(c, number)]
        if neighbours:
            return neighbours[self._rng.randint(len(neighbours))]
        pools = [_values(dims[n]) for n in names]
        if any(p is None for p in pools):
            return point
        shape = [len(p) for p in pools]
        for i in self._rng.permutation(int(np.prod(shape))):
            idx = np.unravel_index(i, shape)
            cand = {**point, **{n: p[j] for n, p, j in zip(names, pools, idx, strict=True)}}
            if not held.holds(cand, number):
                return cand
        return point

    def before_trial(self, study, trial):
        self._inner.before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._plans.pop(trial.number, None)
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()
        self._rng.seed()

    def is_exhausted(self, study) -> bool:
        """Whether the study holds every point of a finite space."""
        if self._size is None:
            return False
        return len(self._held.update(study.get_trials(deepcopy=False))) >= self._size
