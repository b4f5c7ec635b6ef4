"""The budget buys new designs: no sampler re-proposes a design the study holds, a study
that holds its whole (finite) space ends and says so, and the grid sampler runs every
point exactly once with one or several workers (``dse.search._unique``)."""

from __future__ import annotations

import itertools

import optuna
import pytest
from optuna.trial import TrialState

from dse.cli import main
from dse.cli._runner import run_study
from dse.search import run
from dse.search._samplers import SAMPLERS
from dse.search._unique import HeldDesigns, UniqueSampler, count_designs
from dse.spec import load_spec
from dse.spec.space import Dim, Space

# a 120-point space with the structure of design studies: choices and stepped ranges
SPACE = Space(npu={"pe": Dim("choice", (16, 32, 64, 128)), "width": Dim("choice", (8, 16)),
                   "mode": Dim("choice", ("r", "fluid"))},
              policy=Dim("fixed", ("fluid",)),
              params={"fluid": {"batch": Dim("int", low=1, high=4),
                                "refill": Dim("float", low=0.0, high=0.5, step=0.25)}})
DIMS = SPACE.searched("fluid")


def toy(trial):
    p = {name: dim.suggest(trial, name) for name, dim in DIMS.items()}
    capacity = p["pe"] * p["width"] * (1.0 if p["mode"] == "fluid" else 0.5) * p["fluid.batch"]
    return min(1.0, capacity / 4000.0) - 0.1 * p["fluid.refill"], p["pe"] * p["width"]


def _inner(name, seed):
    spec = type("Spec", (), {"sampler_options": {}, "space": SPACE, "seed": seed,
                             "source": "<test>"})()
    return SAMPLERS[name].factory(spec, seed)


def _repeats(study):
    keys = [tuple(sorted(t.params.items())) for t in study.get_trials()]
    return len(keys) - len(set(keys))


def test_space_size_and_searched_dimensions():
    assert count_designs(SPACE) == 4 * 2 * 2 * 4 * 3
    assert list(DIMS) == ["pe", "width", "mode", "fluid.batch", "fluid.refill"]
    assert DIMS["fluid.refill"].distribution() == optuna.distributions.FloatDistribution(
        0.0, 0.5, step=0.25)


@pytest.mark.parametrize("name", ["nsga2", "tpe", "random"])
def test_no_sampler_proposes_a_held_design(name):
    """Half of the space in trials: the plain samplers repeat designs, the wrapped ones
    never do."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    budget = count_designs(SPACE) // 2
    plain = optuna.create_study(directions=["maximize", "minimize"], sampler=_inner(name, 1))
    plain.optimize(toy, n_trials=budget)
    sampler = UniqueSampler(_inner(name, 1), SPACE, 1)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(toy, n_trials=budget)
    assert _repeats(plain) > 0
    assert _repeats(study) == 0


def test_a_new_proposal_is_returned_untouched():
    """A study that never meets a held design gets exactly the wrapped sampler's trials."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    a = optuna.create_study(directions=["maximize", "minimize"],
                            sampler=optuna.samplers.RandomSampler(seed=1))
    a.optimize(toy, n_trials=20)
    b = optuna.create_study(directions=["maximize", "minimize"],
                            sampler=UniqueSampler(optuna.samplers.RandomSampler(seed=1),
                                                  SPACE, 1))
    b.optimize(toy, n_trials=20)
    assert _repeats(a) == 0 and b.sampler.replaced == 0
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_held_designs_follow_trial_states():
    def trial(number, state, params, **attrs):
        t = optuna.trial.create_trial(state=state, params=params, distributions={
            k: optuna.distributions.IntDistribution(0, 9) for k in params}, user_attrs=attrs,
            values=[1.0] if state == TrialState.COMPLETE else None)
        t.number = number
        return t

    trials = [trial(0, TrialState.COMPLETE, {"a": 1}),
              trial(1, TrialState.FAIL, {"a": 2}),                      # crashed: not held
              trial(2, TrialState.FAIL, {"a": 3}, invalid_design="x"),  # evaluated: held
              trial(3, TrialState.RUNNING, {"a": 4}),
              trial(4, TrialState.PRUNED, {"a": 5})]
    held = HeldDesigns().update(trials)
    assert [held.holds({"a": a}) for a in range(1, 7)] == [True, False, True, True, True,
                                                            False]
    assert not held.holds({"a": 4}, number=3)  # a running trial does not hold its own point
    trials[1] = trial(1, TrialState.FAIL, {"a": 2})
    trials.append(trial(5, TrialState.WAITING, {"a": 2}))  # re-queued: held again
    assert held.update(trials).holds({"a": 2})


def test_exhausted_space_ends_the_study_and_says_so(tiny_study, capsys):
    path = tiny_study(n_trials=10, requests=200, policy_space="[space.policy.fluid]\n"
                      "max_batch = 4")
    text = path.read_text().replace("pe_count = [16, 32, 64, 128]", "pe_count = [32, 64]")
    path.write_text(text.replace('pe_width = [8, 16]', 'pe_width = 16'))
    res = run(load_spec(path))  # 2 PE counts x 2 batching modes: 4 designs
    assert res.exhausted and res.counts["COMPLETE"] == 4 and _repeats(res.study) == 0
    assert main(["run", str(path), "--quiet", "--no-report"]) == 0
    assert "every design of the space is in the study" in capsys.readouterr().out


@pytest.mark.parametrize("workers", [1, 2])
def test_grid_runs_every_point_exactly_once(tiny_study, workers):
    path = tiny_study(sampler="grid", n_trials=None, storage="grid.journal", requests=200,
                      policy="static", policy_space="[space.policy.static]\n"
                      "max_batch = [2, 8]\nmax_queue_delay_ms = [0.5, 2.0]")
    spec = load_spec(path)
    res = run_study(spec, workers=workers, progress=False)
    grid = spec.space.grid()
    expected = sorted(itertools.product(*grid.values()))
    trials = res.study.get_trials(states=(TrialState.COMPLETE,))
    assert sorted(tuple(t.params[k] for k in grid) for t in trials) == expected
    assert res.exhausted
