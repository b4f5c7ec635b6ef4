"""The learned BCEdge scheduler: the Gymnasium environment, training, the bcedge-rl policy.

Needs the optional extra ``rl`` (skipped without it); training runs are heavy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

from cost_models import load_npu  # noqa: E402
from dse.evaluation import evaluate  # noqa: E402
from dse.rl.env import SchedulingEnv, env_settings  # noqa: E402
from dse.sim import Stepper  # noqa: E402
from dse.sim._state import ACT_START, XI_BUSY, XI_CTX  # noqa: E402
from dse.sim.policies.bcedge_rl import action_for  # noqa: E402
from workloads import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NPU = ROOT / "cost_models/designs/npu_wide.toml"
SCENARIO = ROOT / "workloads/data/scenarios/camera_and_voice.toml"


@pytest.fixture(scope="module")
def env():
    design, scenario = load_npu(NPU), load_scenario(SCENARIO)
    return SchedulingEnv(design, scenario, env_settings(design, scenario, requests=400))


def test_env_passes_gymnasium_checker(env):
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=7)
    again, _ = env.reset(seed=7)
    assert np.array_equal(obs, again)
    assert env.observation_space.shape == (3 * 2 + 2 * 4 + 3,)  # 2 models, 4 slices


def test_replaying_bcedge_matches_the_kernel(env):
    """The env driven by the `bcedge` kernel policy's own choices (2 instances) gives
    the all-Numba simulator's result to the last bit."""
    trace = env.scenario.trace(1500, 3)
    params = {"instances": 2, "max_batch": env.settings["max_batch"] // 2}
    stepper = Stepper(trace.arrival_ms, trace.stream, trace.model, trace.exit, env.slo_ms,
                      env._tables[2], "bcedge", params)
    batches = []
    while (x := stepper.next_decision()) is not None:
        action = stepper.policy_action(x)
        if action[0] == ACT_START:
            batches.append(action[2])
        stepper.act(x, *action)
    env.start(trace)
    part = env.settings["instances"].index(2)
    for i, k in enumerate(batches):
        a = action_for(k, part, env.settings["max_batch"], len(env.settings["instances"]))
        over = env.step(a)[2]
        assert over == (i == len(batches) - 1)
    ours = env.core.result()
    kernel = evaluate(env.design, env.scenario, "bcedge", params, trace=trace)
    for key in ("start_ms", "completion_ms", "dropped"):
        assert np.array_equal(getattr(ours, key), kernel.requests[key], equal_nan=True)
    assert env.core.instances == 2 and len(batches) > 100


def test_repartition_only_when_idle(env):
    """A change of instance count takes effect only when every slice is idle."""
    env.reset(seed=1)
    n_parts = len(env.settings["instances"])
    seen = []
    for _ in range(300):
        st = env.core.stepper.st
        idle = all(st.xi[XI_CTX, y] < 0 and not st.xi[XI_BUSY, y] for y in range(st.xi.shape[1]))
        before = env.core.instances
        want = np.random.default_rng(len(seen)).integers(n_parts)
        if env.step(action_for(1, want, env.settings["max_batch"], n_parts))[2]:
            break
        changed = env.core.instances != before
        assert not changed or idle
        seen.append(changed)
    assert any(seen)


def _agent_actions(env, agent, trace):
    """The agent's (batch, partition) choices over one trace, and the run's result."""
    import torch

    from dse.sim.policies.bcedge_rl import choice

    env.start(trace)
    out = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the policy runs
    try:
        while not env.core.done:
            a, _ = agent.predict(env.core.obs, deterministic=True)
            out.append(choice(a, env.settings["max_batch"], len(env.settings["instances"])))
            env.step(a)
    finally:
        torch.set_num_threads(threads)
    return out, env.core.result()


def test_save_load_round_trip_gives_identical_decisions(env, tmp_path):
    from dse.rl.train import train
    from dse.sim.policies.bcedge_rl import load

    path = tmp_path / "policy.zip"
    agent, settings = train(env.design, env.scenario, path, steps=150, seed=3,
                            settings=env.settings)
    loaded_settings, loaded = load(path)
    assert loaded_settings["instances"] == settings["instances"]
    assert loaded_settings["trained"] == {"steps": 150, "seed": 3, "scenario":
                                          "camera_and_voice",
                                          "algorithm": "SAC (stable-baselines3)",
                                          "npu": env.design.to_dict()}
    trace = env.scenario.trace(600, 11)
    before, res_before = _agent_actions(env, agent, trace)
    after, res_after = _agent_actions(env, loaded, trace)
    assert before == after and len(before) > 50
    assert np.array_equal(res_before.completion_ms, res_after.completion_ms, equal_nan=True)
    # the registered policy runs the same decisions through dse.evaluate
    ev = evaluate(env.design, env.scenario, "bcedge-rl", {"model": str(path)}, trace=trace)
    assert np.array_equal(ev.requests["completion_ms"], res_after.completion_ms,
                          equal_nan=True)


def test_policy_file_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import cost_models
    import dse.sim
    from dse.cli import main

    # As on a first run: the policy file is checked before any kernel is compiled (the
    # "compiling kernels" notice would be a second line).
    monkeypatch.setattr(dse.sim, "kernel_ready", lambda policy: False)
    monkeypatch.setattr(cost_models, "kernels_ready", lambda: False)

    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    base = ["simulate", "--npu", str(NPU), "--scenario", str(SCENARIO), "--requests", "50",
            "--policy", "bcedge-rl"]
    for extra, words in (([], "--param model: give the policy file"),
                         (["--param", f"model={tmp_path / 'none.zip'}"], "no such file"),
                         (["--param", f"model={bad}"], "is not a policy written by")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(base + ["--param", f"model={bad}"]) == 1
    err = capsys.readouterr().err.strip()
    assert "optional extra 'rl' (missing: torch): pip install -e '.[rl]'" in err
    assert main(["rl", "train", "--npu", str(NPU), "--scenario", str(SCENARIO),
                 "--out", str(tmp_path / "p.zip")]) == 1
    monkeypatch.undo()
    monkeypatch.setattr(dse.sim, "kernel_ready", lambda policy: False)
    for cmd in (["rl", "eval", "--npu", str(NPU), "--scenario", str(SCENARIO),
                 "--model", str(bad)],
                ["compare", "--npu", str(NPU), "--scenario", str(SCENARIO),
                 "--policies", "fcfs,bcedge-rl", "--param", f"model={bad}"]):
        capsys.readouterr()
        assert main(cmd) == 2, cmd
        err = capsys.readouterr().err.strip()
        assert "is not a policy written by" in err and len(err.splitlines()) == 1, err


@pytest.mark.heavy
def test_training_is_deterministic_and_beats_random(env, tmp_path):
    """A few thousand SAC steps beat a random policy's utility on a fixed held-out trace;
    the same seed trains the same network."""
    import torch

    from dse.rl.train import train, utility

    settings = {**env.settings, "requests": 1000}
    a1, _ = train(env.design, env.scenario, tmp_path / "a.zip", steps=3000, seed=0,
                  settings=settings)
    a2, _ = train(env.design, env.scenario, tmp_path / "b.zip", steps=3000, seed=0,
                  settings=settings)
    for p, q in zip(a1.policy.parameters(), a2.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    trace = env.scenario.trace(4000, 5)
    mb, gamma = settings["max_batch"], settings["latency_weight"]
    trained = evaluate(env.design, env.scenario, "bcedge-rl",
                       {"model": str(tmp_path / "a.zip")}, trace=trace)
    u_trained = utility(env.design, env.scenario, trained.requests, gamma, mb)
    env.start(trace)
    rng = np.random.default_rng(0)
    while not env.core.done:
        env.step(rng.uniform(-1.0, 1.0, 2))
    r = env.core.result()
    random_requests = {"arrival_ms": r.arrival_ms, "completion_ms": r.completion_ms,
                       "dropped": r.dropped, "stream": r.stream}
    u_random = utility(env.design, env.scenario, random_requests, gamma, mb)
    assert u_trained > u_random, (u_trained, u_random)



def _tiny_agent(path, design, model: str, **settings):
    """A policy file trained for 50 steps on one stream of ``model``."""
    from dse.rl.train import train
    from workloads import Scenario

    scenario = Scenario.from_dict({"name": model, "streams": [
        {"name": model, "model": model, "arrival": "poisson", "rate_rps": 100, "slo_x": 4}]})
    train(design, scenario, path, steps=50, seed=0,
          settings=env_settings(design, scenario, requests=100, **settings))
    return path


def test_reproduce_refuses_agents_that_do_not_fit(tmp_path, capsys):
    """`dse reproduce --rl-model`: an agent with other samples in flight, or trained for
    models none of the workloads has, a missing file, or bcedge-rl named in --policies,
    are one-line errors before any work."""
    from dse.cli import main
    from dse.experiments.reproduce import ReproConfig

    large = load_npu(ReproConfig().design)
    cases = ((_tiny_agent(tmp_path / "wide.zip", load_npu(NPU), "resnet50"),
              "trained with 8 samples in flight; the reproduction gives every policy 32"),
             (_tiny_agent(tmp_path / "voice.zip", large, "bert_base", max_batch=32),
              "trained for models ['bert_base'] on another NPU or workload: it applies to "
              "none of the reproduction's workloads"),
             (tmp_path / "none.zip", "no such file"))
    base = ["reproduce", "--quick", "--out", str(tmp_path / "r")]
    for extra, words in [(["--rl-model", str(p)], w) for p, w in cases] + [
            (["--policies", "static,bcedge-rl"], "give its policy file with --rl-model")]:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("dse: error: --") and words in err, err
        assert len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.heavy
def test_reproduce_compares_a_trained_agent_where_it_applies(tmp_path):
    """The agent (trained in-test for 200 steps on the reproduction's design, a
    ResNet-50 scenario, 32 samples in flight) runs untuned on the ResNet-50 workload on
    that design only, on the held-out seeds, with intervals; workloads and hardware it
    was not trained for, and the tables over several workloads, leave it out."""
    from dse.experiments.reproduce import CONVENTIONAL, FLUID_HW, ReproConfig, reproduce
    from dse.experiments.tuning import held_out_seeds
    from dse.rl.train import train
    from dse.search import optimize
    from workloads import Scenario

    config = ReproConfig(models=("resnet50", "mobilenetv2"), tenants=(),
                         arrivals=("poisson",), loads=(0.9,), slo_x=(4.0,), n_requests=300,
                         held_out=3, budget=1, exit_shifts=(), ablation_seeds=1,
                         codesign_trials=2, policies=("static",))
    design = load_npu(config.design)
    scenario = Scenario.from_dict({"name": "camera", "streams": [
        {"name": "camera", "model": "resnet50", "arrival": "poisson", "rate_rps": 300,
         "slo_x": 4}]})
    path = tmp_path / "agent.zip"
    train(design, scenario, path, steps=200, seed=0,
          settings=env_settings(design, scenario, max_batch=32, requests=300))

    rep = reproduce(dataclasses.replace(config, rl_model=str(path)), optimize=optimize)
    rl = rep.records[rep.records["policy"] == "bcedge-rl"]
    assert set(zip(rl["workload"], rl["hardware"], strict=True)) == {("resnet50", FLUID_HW)}
    assert sorted(rl["seed"]) == held_out_seeds(0, 3)
    assert CONVENTIONAL in set(rep.records["hardware"])
    row = rep.summary[rep.summary["policy"] == "bcedge-rl"].iloc[0]
    assert row["attainment_lo"] <= row["attainment"] <= row["attainment_hi"]
    assert row["seeds"] == 3
    assert any(line.startswith("bcedge-rl: ") and "untuned" in line and
               f"resnet50 on {FLUID_HW} only" in line for line in rep.held_equal)
    assert "bcedge-rl" not in set(rep.ranking["policy"]) | set(rep.tuning["policy"])
    spans = rep.ratios[rep.ratios["workload"].isna()]
    assert len(spans) and not spans["best_rival"].str.startswith("bcedge-rl").any()
    assert (rep.ratios["workload"] == "resnet50").any()


def test_action_sample_draws_what_gymnasium_box_draws(env):
    """The env's cheaper ``action_space.sample()`` gives Gymnasium's ``Box.sample``
    numbers for the same seed (so seeded SB3 exploration is unchanged)."""
    ours = type(env.action_space)(2)
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    ours.seed(5)
    box.seed(5)
    for _ in range(100):
        a, b = ours.sample(), box.sample()
        assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b)
        assert ours.contains(a)
    with pytest.raises(gym.error.Error):
        ours.sample(mask=np.ones(2))


def test_action_sample_blocks_and_reseeding_keep_box_numbers(env):
    """``sample()`` draws a block at a time: across block boundaries and after a reseed
    mid-block it still gives Gymnasium's ``Box.sample`` numbers for the same seeds."""
    ours = type(env.action_space)(2)
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    for seed, n in ((5, ours.BLOCK + 3), (6, 2 * ours.BLOCK + 1)):
        ours.seed(seed)
        box.seed(seed)
        for _ in range(n):
            assert np.array_equal(ours.sample(), box.sample())


def test_action_mapping_of_the_step_matches_choice(env):
    """The compiled step maps an action as ``choice`` does (bin edges, clipping); a NaN
    action is refused with a ValueError."""
    from dse.sim.policies.bcedge_rl import choice

    mb, n_parts = env.settings["max_batch"], len(env.settings["instances"])
    edges = [-2.0, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 3.0]
    assert choice([-0.75, 0.0], mb, n_parts) == (2, 1)  # left edge of bin 2 (8 bins)
    assert choice([1.0, -5.0], mb, n_parts) == (mb, 0)
    trace = env.scenario.trace(300, 2)
    env.start(trace)
    a = env.core
    b = core_for_trace(env, trace)
    for i in range(10_000):
        action = np.array([edges[i % len(edges)], edges[(3 * i) % len(edges)]], np.float32)
        over = a.act(*action.tolist())
        assert over == b.step(*choice(action, mb, n_parts))
        assert np.array_equal(a.obs, b.obs) and a.reward == b.reward
        if over:
            break
    assert over
    with pytest.raises(ValueError, match="NaN"):
        core_for_trace(env, trace).act(float("nan"), 0.0)
    with pytest.raises(ValueError, match="NaN"):
        choice([0.0, float("nan")], mb, n_parts)


def core_for_trace(env, trace):
    from dse.sim.policies.bcedge_rl import core_for

    return core_for(trace, env.slo_ms, env._tables.__getitem__, env.settings,
                    queue_cap=env.queue_cap)
