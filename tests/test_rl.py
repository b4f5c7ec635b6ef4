"""The learned BCEdge scheduler: the Gymnasium environment, training, the bcedge-rl policy.

Needs the optional extra ``rl`` (skipped without it); training runs are heavy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

from cost_models import load_npu  # noqa: E402
from dse.evaluation import evaluate  # noqa: E402
from dse.rl.env import SchedulingEnv, env_settings  # noqa: E402
from dse.sim import Stepper  # noqa: E402
from dse.sim._state import ACT_START  # noqa: E402
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
    params = {"instances": 2, "max_batch": env.settings["max_batch"]}
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
        idle = all(st.x_ctx[y] < 0 and not st.x_busy[y] for y in range(st.x_ctx.size))
        before = env.core.instances
        want = np.random.default_rng(len(seen)).integers(n_parts)
        if env.step(action_for(1, want, env.settings["max_batch"], n_parts))[2]:
            break
        changed = env.core.instances != before
        assert not changed or idle
        seen.append(changed)
    assert any(seen)
