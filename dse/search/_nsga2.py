"""NSGA-II tuned for design studies: small budgets over discrete, plateau-rich spaces.

Plain NSGA-II (Optuna's ``NSGAIISampler``) keeps the algorithm; two of its strategies are
replaced (see ``docs/studies.md``, "The nsga2 sampler", and ``benchmarks/bench_search.py``):

- **Elite selection without objective-space duplicates.**  Many designs share exactly the
  same objective values (every undersized design has SLO attainment 0; scheduler settings
  that never bind give equal results).  Plain NSGA-II fills its population with such copies
  and collapses; here each distinct objective vector enters the elite once, copies only
  fill places that are left (Fortin & Parizeau, GECCO 2013).
- **Children: local search around the front, crossover otherwise.**  With probability
  ``local_search_prob`` a child is a rank-1 elite member with one parameter changed (a
  categorical one to another choice, a numeric one by a normal step of 10% of its range);
  otherwise, as in Optuna, a uniform crossover of two binary-tournament winners
  (``crossover_prob``, each parameter from the second one with ``swapping_prob``; else a
  copy of one) and per-parameter mutation, i.e. re-sampling, with ``mutation_prob``
  (default ``1 / n_params``).  A child equal to a design the study already holds would
  cost a trial for nothing; up to ``MAX_TRIES`` children are drawn to avoid one (and
  ``dse.search._unique.UniqueSampler`` replaces one that is still held).  When the
  elite has no spread in some objective (for example all of it at SLO attainment 0)
  there is nothing to climb, and children are sampled at random until there is.

Constraints follow Deb's rules as in Optuna: feasible before infeasible, infeasible by
total violation.  Re-sampled parameters are left to Optuna's independent (random) sampler.
"""

from __future__ import annotations

import warnings

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.study import StudyDirection

from dse.search import _optuna_compat as compat
from dse.search._front import pareto_mask
from dse.search._unique import MAX_TRIES, HeldDesigns


def _ranks(population: list, directions) -> np.ndarray:
    """Non-domination rank of each trial (0 = first front), constraint-aware."""
    sign = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions])
    values = np.array([t.values for t in population], dtype=np.float64) * sign
    violation = np.array([sum(max(0.0, v) for v in t.constraints.values())
                          if t.constraints else 0.0 for t in population])
    ranks = np.empty(len(population), dtype=np.int64)
    feasible = np.flatnonzero(violation <= 0.0)
    rank, left = 0, feasible
    while left.size:
        front = pareto_mask(values[left])
        ranks[left[front]] = rank
        left, rank = left[~front], rank + 1
    for v in np.unique(violation[violation > 0.0]):  # infeasible: least violation first
        ranks[violation == v] = rank
        rank += 1
    return ranks


def _crowding(values: np.ndarray) -> np.ndarray:
    """Crowding distance of each row (extremes infinite), over objectives with spread."""
    dist = np.zeros(len(values))
    for j in range(values.shape[1]):
        order = np.argsort(values[:, j], kind="stable")
        col = values[order, j]
        span = col[-1] - col[0]
        if span <= 0:
            continue
        dist[order[0]] = dist[order[-1]] = np.inf
        dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist


class UniqueEliteSelection:
    """NSGA-II survivor selection in which each distinct objective vector counts once."""

    def __init__(self, population_size: int):
        self.population_size = population_size

    def __call__(self, study, population: list) -> list:
        seen, unique, copies = set(), [], []
        for t in sorted(population, key=lambda t: t.number):
            key = tuple(t.values)
            (copies if key in seen else unique).append(t)
            seen.add(key)
        elite: list = []
        for group in (unique, copies):
            if not group:
                continue
            ranks = _ranks(group, study.directions)
            for r in range(ranks.max() + 1):
                members = [t for t, k in zip(group, ranks, strict=True) if k == r]
                room = self.population_size - len(elite)
                if len(members) > room:
                    crowd = _crowding(np.array([t.values for t in members], dtype=np.float64))
                    keep = np.argsort(-crowd, kind="stable")[:room]
                    members = [members[i] for i in sorted(keep)]
                elite.extend(members)
                if len(elite) >= self.population_size:
                    return elite
        return elite


def _nudge(dist, value, rng: np.random.RandomState):
    """A different value of a numeric ``dist`` near ``value``: a normal step of 10% of the
    range (in log space for log ranges), snapped to the step grid."""
    lo, hi = float(dist.low), float(dist.high)
    to, back = (np.log, np.exp) if dist.log else (float, float)
    x = float(to(value)) + rng.normal(0.0, 0.1 * (float(to(hi)) - float(to(lo))))
    new = float(np.clip(back(x), lo, hi))
    step = dist.step if dist.step is not None else (1 if isinstance(dist, IntDistribution)
                                                    else None)
    if step is not None:
        k = round((new - lo) / step)
        if k == round((value - lo) / step):  # rounded back onto the parent: one step
            k += 1 if (rng.rand() < 0.5 and lo + (k + 1) * step <= hi) or k == 0 else -1
        new = min(round(lo + k * step, 12), hi)  # 0.1 * 3 is stored as 0.3
    return int(round(new)) if isinstance(dist, IntDistribution) else new


class FrontLocalSearchChildren:
    """Child parameters: local search around the front or crossover + mutation."""

    def __init__(self, seed: int | None, local_search_prob: float = 0.9,
                 mutation_prob: float | None = None, crossover_prob: float = 0.9,
                 swapping_prob: float = 0.5):
        for name, p in (("local_search_prob", local_search_prob),
                        ("mutation_prob", 0.0 if mutation_prob is None else mutation_prob),
                        ("crossover_prob", crossover_prob), ("swapping_prob", swapping_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {p}")
        self.local_search_prob = local_search_prob
        self.mutation_prob = mutation_prob
        self.crossover_prob = crossover_prob
        self.swapping_prob = swapping_prob
        self._rng = np.random.RandomState(seed)
        self._held = HeldDesigns()

    def reseed(self) -> None:
        self._rng.seed()

    def __call__(self, study, search_space: dict, parents: list) -> dict:
        if not search_space or not parents:
            return {}
        values = np.array([t.values for t in parents], dtype=np.float64)
        if np.any(values.max(axis=0) == values.min(axis=0)):
            return {}  # no spread in some objective: sample at random
        ranks = _ranks(parents, study.directions)
        held = self._held.update(compat.trials_of_this_trial(study))
        for _ in range(MAX_TRIES):  # a design already tried would cost a trial for nothing
            child = self._child(search_space, parents, ranks)
            if len(child) < len(search_space) or not held.holds(child):
                break
        return child

    def _child(self, search_space: dict, parents: list, ranks: np.ndarray) -> dict:
        rng = self._rng
        names = list(search_space)
        if rng.rand() < self.local_search_prob:
            front = [t for t, r in zip(parents, ranks, strict=True) if r == 0]
            child = dict(front[rng.randint(len(front))].params)
            name = names[rng.randint(len(names))]
            dist = search_space[name]
            if isinstance(dist, CategoricalDistribution) and len(dist.choices) > 1:
                others = [c for c in dist.choices if c != child.get(name)]
                child[name] = others[rng.randint(len(others))]
            elif (isinstance(dist, IntDistribution | FloatDistribution) and name in child
                  and dist.high > dist.low):
                child[name] = _nudge(dist, child[name], rng)
            else:
                child.pop(name, None)  # re-sampled
        else:
            def tournament():
                i, j = rng.randint(len(parents), size=2)
                return parents[i if ranks[i] <= ranks[j] else j]

            a = tournament()
            if rng.rand() < self.crossover_prob:
                b = tournament()
                child = {n: (b if rng.rand() < self.swapping_prob else a).params.get(n)
                         for n in names}
            else:
                child = {n: a.params.get(n) for n in names}
            p = 1.0 / len(names) if self.mutation_prob is None else self.mutation_prob
            for n in names:
                if rng.rand() < p:
                    child.pop(n)  # mutated: re-sampled
        return {n: v for n, v in child.items() if n in search_space and v is not None}


class DesignNSGAIISampler(optuna.samplers.NSGAIISampler):
    """``NSGAIISampler`` with :class:`UniqueEliteSelection` and
    :class:`FrontLocalSearchChildren` (see the module docstring)."""

    def __init__(self, *, population_size: int = 10, seed: int | None = None,
                 **child_options):
        self._children = FrontLocalSearchChildren(seed, **child_options)
        with warnings.catch_warnings():  # the two strategy arguments are "experimental"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(population_size=population_size, seed=seed,
                             elite_population_selection_strategy=UniqueEliteSelection(
                                 population_size),
                             child_generation_strategy=self._children)

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._children.reseed()
