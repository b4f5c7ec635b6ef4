"""Searching early-exit confidence thresholds: spec validation, trials that trade accuracy
for latency, and exported designs that carry their thresholds and reproduce exactly."""

from __future__ import annotations

import textwrap

import optuna
import pytest

from dse.cli import main
from dse.common import InputError
from dse.report import evaluate_design, load_design
from dse.spec import parse_spec

SPEC = textwrap.dedent("""
    [study]
    name = "exits"
    sampler = "random"
    n_trials = 8
    seed = 5
    objectives = [
      { metric = "slo_attainment", direction = "maximize" },
      { metric = "accuracy", direction = "maximize" },
    ]

    [scenario]
    name = "cam"
    [[scenario.streams]]
    name = "cam"
    model = "resnet18"
    arrival = "poisson"
    rate_rps = 150
    slo_ms = 15
    exit_mode = "difficulty"

    [fidelity]
    requests = 600

    [space.npu]
    pe_count = 64
    pe_width = 16

    [space.policy]
    name = "fluid"

    [space.exits.cam]
    {exits}
""")


def _spec(exits: str) -> str:
    return SPEC.replace("{exits}", exits)


@pytest.mark.parametrize("exits, field", [
    ("threshold = { low = 0.2, high = 1.5 }", "space.exits.cam.threshold"),
    ("exit7 = 0.5", "space.exits.cam.exit7"),
    ("exit0 = 0.5", "space.exits.cam"),
    ("threshold = 0.5\nexit0 = 0.5", "space.exits.cam"),
])
def test_bad_exit_space_names_the_field(exits, field):
    with pytest.raises(InputError) as err:
        parse_spec(_spec(exits), source="s.toml")
    assert err.value.field == field


def test_unknown_stream_suggests_the_right_one():
    text = _spec("threshold = 0.5").replace("[space.exits.cam]", "[space.exits.cma]")
    with pytest.raises(InputError, match="did you mean 'cam'"):
        parse_spec(text, source="s.toml")


def test_grid_space_includes_thresholds():
    spec = parse_spec(_spec("threshold = [0.3, 0.9]"), source="s.toml")
    assert spec.space.grid()["exits.cam.threshold"] == [0.3, 0.9]


def test_searched_thresholds_trade_accuracy_and_reproduce(tmp_path, capsys):
    spec = tmp_path / "exits.toml"
    spec.write_text(_spec("exit0 = { low = 0.0, high = 1.0 }\nexit1 = { low = 0.0, high = 1.0 }"
                          "\nexit2 = { low = 0.0, high = 1.0 }"))
    assert main(["run", str(spec), "--quiet", "--no-report"]) == 0
    study = optuna.load_study(study_name="exits",
                              storage=f"sqlite:///{tmp_path / 'results/exits/study.db'}")
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(trials) == 8
    for t in trials:
        stored = t.user_attrs["exit_thresholds"]["cam"]
        assert stored == [t.params[f"exits.cam.exit{i}"] for i in range(3)]
    # the thresholds change where requests leave, hence accuracy (the design is fixed)
    assert len({round(t.user_attrs["metrics"]["overall"]["accuracy"], 9) for t in trials}) > 1

    out = tmp_path / "design.toml"
    assert main(["export", str(spec), "--pick", "max-slo", "--out", str(out)]) == 0
    design = load_design(str(out))
    trial = study.trials[design.provenance["trial"]]
    (stream,) = design.scenario["streams"]
    assert stream["exit_thresholds"] == trial.user_attrs["exit_thresholds"]["cam"]
    assert evaluate_design(design)["reproduced"] is True


def test_shared_threshold_applies_to_every_exit():
    from dse.search import suggest_exits, trial_scenario

    spec = parse_spec(_spec("threshold = { low = 0.1, high = 0.9 }"), source="s.toml")
    exits = suggest_exits(optuna.trial.FixedTrial({"exits.cam.threshold": 0.4}), spec)
    assert exits == {"cam": [0.4, 0.4, 0.4]}  # resnet18: 4 exits, 3 thresholds
    (stream,) = trial_scenario(spec.scenario, exits).streams
    assert stream.exit_thresholds == (0.4, 0.4, 0.4)
