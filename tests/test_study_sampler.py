"""The default ``nsga2`` sampler (``dse.search._nsga2``): its two strategies, its
determinism, and its search quality against an exhaustive grid on a cheap analytic problem
with the same structure as design studies (a zero plateau, discrete choices)."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest

from dse.search._front import hypervolume, minimised, pareto_mask
from dse.search._nsga2 import (
    DesignNSGAIISampler,
    FrontLocalSearchChildren,
    UniqueEliteSelection,
    _ranks,
)

DIRS = [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
SPACE = {"pe": [1, 2, 3, 4, 5, 6, 7, 8], "width": [1, 2, 4], "mode": ["rigid", "fluid"],
         "batch": [1, 2, 4, 8, 16], "refill": [0.0, 0.25, 0.5, 0.75]}


def toy(pe, width, mode, batch, refill):
    """(SLO attainment in [0, 1], area): attainment is 0 below a capacity threshold (most
    of the space), then saturates; the scheduler knobs matter only near the best setting."""
    capacity = pe * width * (1.0 if mode == "fluid" else 0.4) * (1 + 0.2 * np.log2(batch))
    attainment = float(np.clip((capacity - 12.0) / 30.0, 0.0, 1.0))
    attainment *= 1.0 - 0.15 * abs(refill - 0.25) - 0.01 * (batch != 8)
    area = 1.0 + pe * width * 0.1 + (0.3 if mode == "fluid" else 0.0)
    return attainment, area


def toy_objective(trial):
    return toy(*(trial.suggest_categorical(k, v) for k, v in SPACE.items()))


def point(*values):
    return dict(zip(SPACE, values, strict=True))


def frozen(number, values, params=None, constraints=None, distributions=None):
    params = params or {}
    distributions = distributions or {
        k: optuna.distributions.CategoricalDistribution(SPACE[k]) for k in params}
    t = optuna.trial.create_trial(params=params, distributions=distributions,
                                  values=list(values), constraints=constraints)
    t.number = number
    return t


class _Study:
    directions = DIRS

    def __init__(self, trials=()):
        self.trials = list(trials)

    def get_trials(self, deepcopy=True):
        return self.trials

    def _get_trials(self, deepcopy=True, states=None, use_cache=False):
        return self.trials


def test_elite_counts_each_objective_vector_once():
    # ten copies of the smallest zero-attainment point (one distinct vector) and four
    # distinct dominated points: the elite holds all five distinct vectors first
    pop = [frozen(i, (0.0, 1.0)) for i in range(10)]
    pop += [frozen(10 + i, (0.1 * i, 2.0 + i)) for i in range(4)]
    elite = UniqueEliteSelection(5)(_Study(), pop)
    assert len({tuple(t.values) for t in elite}) == 5
    elite = UniqueEliteSelection(7)(_Study(), pop)  # then copies fill what is left
    assert len(elite) == 7 and sum(t.values == [0.0, 1.0] for t in elite) == 3


def test_ranks_are_constraint_aware():
    pop = [frozen(0, (0.9, 1.0), constraints={"a": 1.0}),
           frozen(1, (0.1, 5.0)), frozen(2, (0.5, 2.0), constraints={"a": 0.5}),
           frozen(3, (0.2, 5.0))]
    # feasible first (by domination), then the least violation
    assert list(_ranks(pop, DIRS)) == [3, 1, 2, 0]


def test_children_sample_at_random_on_a_plateau():
    kids = FrontLocalSearchChildren(seed=0, local_search_prob=1.0)
    space = {k: optuna.distributions.CategoricalDistribution(v) for k, v in SPACE.items()}
    parents = [frozen(i, (0.0, 1.0 + i), point(1 + i, 1, "rigid", 1, 0.0))
               for i in range(4)]
    assert kids(_Study(), space, parents) == {}  # attainment has no spread: nothing to climb


def test_local_search_changes_at_most_one_parameter_of_a_front_member():
    kids = FrontLocalSearchChildren(seed=1, local_search_prob=1.0)
    space = {k: optuna.distributions.CategoricalDistribution(v) for k, v in SPACE.items()}
    front = {0: point(8, 4, "fluid", 8, 0.25),
             1: point(2, 1, "rigid", 2, 0.5)}
    parents = [frozen(0, (1.0, 4.5), front[0]), frozen(1, (0.2, 1.2), front[1]),
               frozen(2, (0.1, 3.0), point(4, 2, "rigid", 1, 0.0))]
    for _ in range(50):
        child = kids(_Study(), space, parents)
        assert len(child) == len(SPACE)  # all categorical: one moves to another choice
        assert any(sum(p[k] != v for k, v in child.items()) == 1 for p in front.values())


def test_children_avoid_designs_the_study_holds():
    kids = FrontLocalSearchChildren(seed=4, local_search_prob=1.0)
    space = {k: optuna.distributions.CategoricalDistribution(v) for k, v in SPACE.items()}
    best = point(8, 4, "fluid", 8, 0.25)
    parents = [frozen(0, (1.0, 4.5), best), frozen(1, (0.0, 5.0), point(1, 1, "rigid", 1, 0.0))]
    # the study already holds every neighbour of the front member but one
    held = [dict(best, **{k: c}) for k, v in SPACE.items() for c in v if c != best[k]]
    free = held.pop(9)  # mode "rigid": one of 5 parameters to change, one other choice
    study = _Study(parents + [frozen(2 + i, (0.5, 2.0), p) for i, p in enumerate(held)])
    hits = sum(kids(study, space, parents) == free for _ in range(20))
    assert hits >= 14  # 10 attempts per child: 89% (a single attempt: 20%)


def test_numeric_local_moves_stay_on_the_grid_and_move():
    kids = FrontLocalSearchChildren(seed=5, local_search_prob=1.0)
    space = {"batch": optuna.distributions.IntDistribution(1, 32),
             "refill": optuna.distributions.FloatDistribution(0.0, 1.0, step=0.25),
             "sram": optuna.distributions.FloatDistribution(128.0, 4096.0, log=True)}
    start = {"batch": 16, "refill": 0.5, "sram": 512.0}
    parents = [frozen(0, (1.0, 4.5), start, distributions=space),
               frozen(1, (0.0, 1.0), start, distributions=space)]
    for _ in range(100):
        child = kids(_Study(parents), space, parents)
        moved = [k for k in space if child[k] != start[k]]
        assert len(moved) == 1
        for k, d in space.items():
            assert d._contains(d.to_internal_repr(child[k]))
        assert abs(child["batch"] - 16) <= 12 and isinstance(child["batch"], int)


def test_crossover_takes_every_parameter_from_a_parent():
    kids = FrontLocalSearchChildren(seed=2, local_search_prob=0.0, mutation_prob=0.0)
    space = {k: optuna.distributions.CategoricalDistribution(v) for k, v in SPACE.items()}
    a, b = (8, 4, "fluid", 8, 0.25), (1, 1, "rigid", 1, 0.0)
    parents = [frozen(0, (1.0, 4.5), point(*a)),
               frozen(1, (0.0, 1.1), point(*b))]
    for _ in range(20):
        child = kids(_Study(), space, parents)
        assert all(child[k] in (x, y) for k, x, y in zip(SPACE, a, b, strict=True))


def _search(sampler, budget):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    seen: set = set()

    def count(study, trial):
        seen.add(tuple(sorted(trial.params.items())))
        if len(seen) >= budget:
            study.stop()

    study.optimize(toy_objective, n_trials=20 * budget, callbacks=[count])
    return study


def test_same_seed_same_trials():
    a = _search(DesignNSGAIISampler(seed=3), 40)
    b = _search(DesignNSGAIISampler(seed=3), 40)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_reaches_the_exhaustive_front_with_a_tenth_of_the_grid():
    """Ground truth: every point of the 960-point grid.  At 10% of it (mean over 5 seeds)
    nsga2 reaches >= 96% of the true hypervolume (measured 98.2%) and beats random search
    (87.3%) and Optuna's plain NSGA-II with the settings dse used before (86.6%)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    grid = np.array([toy(*c) for c in itertools.product(*SPACE.values())])
    dirs = ["maximize", "minimize"]
    pts = minimised(grid, dirs)
    lower, upper = pts.min(axis=0), pts.max(axis=0)
    true_hv = hypervolume(pts[pareto_mask(pts)], lower, upper)
    budget = len(grid) // 10

    def ratio(sampler):
        found = np.array([t.values for t in _search(sampler, budget).trials])
        return hypervolume(minimised(found, dirs), lower, upper) / true_hv

    nsga = np.mean([ratio(DesignNSGAIISampler(seed=s)) for s in range(5)])
    rand = np.mean([ratio(optuna.samplers.RandomSampler(seed=s)) for s in range(5)])
    plain = np.mean([ratio(optuna.samplers.NSGAIISampler(
        seed=s, population_size=10, mutation_prob=0.3)) for s in range(5)])
    assert nsga >= 0.96, (nsga, rand, plain)
    assert nsga > max(rand, plain) + 0.05


@pytest.mark.parametrize("option", ["local_search_prob", "mutation_prob", "crossover_prob",
                                    "swapping_prob"])
def test_probabilities_are_checked(option):
    with pytest.raises(ValueError, match=option):
        DesignNSGAIISampler(**{option: 1.5})
