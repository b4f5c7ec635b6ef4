"""Gymnasium environment speed: decisions/s of a random policy on one core.

The scheduling environment of ``dse rl train`` (``dse.rl.SchedulingEnv``) on a design and a
multi-model scenario, stepped by a uniform random policy over the action box [-1, 1]^2
(resets included, one trace of ``--requests`` requests per episode).  Three figures,
each from the same loop with the actions drawn differently:

* ``action_space.sample()`` per step (the issue's random policy; the env's action space
  draws what Gymnasium's ``Box.sample`` draws, without its generic set-up);
* actions drawn beforehand in one vectorised call of a seeded ``numpy`` Generator, as a
  fast random agent (or a vectorised learner) would: ``env.step`` and resets only;
* Gymnasium's own ``Box.sample`` per step, for scale (what the loop cost before).

Time is this thread's CPU time (``time.thread_time``), so the figures are per core even
on a shared machine (contention for caches still slows them); the step function is
compiled (or loaded from Numba's cache) before timing.  Also printed: the share of the
time spent drawing traces at resets.

    python benchmarks/bench_rl_env.py [--decisions 200000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cost_models import load_npu  # noqa: E402
from dse.rl import SchedulingEnv, env_settings  # noqa: E402
from workloads import load_scenario  # noqa: E402


def _run(env, decisions: int, draw) -> tuple[float, float]:
    """CPU seconds of ``decisions`` steps with actions from ``draw(i)``, and the CPU
    seconds spent in resets."""
    env.reset(seed=0)
    reset_s = 0.0
    t0 = time.thread_time()
    for i in range(decisions):
        if env.step(draw(i))[2]:
            r0 = time.thread_time()
            env.reset()
            reset_s += time.thread_time() - r0
    return time.thread_time() - t0, reset_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npu", default=str(ROOT / "cost_models/designs/npu_wide.toml"))
    ap.add_argument("--scenario",
                    default=str(ROOT / "workloads/data/scenarios/camera_and_voice.toml"))
    ap.add_argument("--decisions", type=int, default=200_000)
    ap.add_argument("--requests", type=int, default=2000, help="requests per episode")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    design, scenario = load_npu(args.npu), load_scenario(args.scenario)
    env = SchedulingEnv(design, scenario,
                        env_settings(design, scenario, requests=args.requests))
    n = args.decisions
    space = env.action_space
    space.seed(0)
    box = gym.spaces.Box(-1.0, 1.0, space.shape, np.float32, seed=0)
    _run(env, 1000, lambda i: space.sample())  # compile / load the step function
    predrawn = np.random.default_rng(0).uniform(-1.0, 1.0, (n, *space.shape)).astype(
        np.float32)
    t_sample, r_sample = _run(env, n, lambda i: space.sample())
    t_pre, r_pre = _run(env, n, predrawn.__getitem__)
    t_box, _ = _run(env, n, lambda i: box.sample())
    out = {"decisions": n, "requests_per_episode": args.requests,
           "decisions_per_s_sample": n / t_sample,
           "decisions_per_s_predrawn": n / t_pre,
           "decisions_per_s_gymnasium_box_sample": n / t_box,
           "reset_share": r_pre / t_pre}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{Path(args.npu).name}, {scenario.name}: {n} decisions, {args.requests} "
          f"requests per episode; decisions/s per core (CPU time), resets included")
    print(f"  random policy, env.action_space.sample() per step: "
          f"{out['decisions_per_s_sample']:>9,.0f}")
    print(f"  random policy, actions drawn beforehand (numpy):    "
          f"{out['decisions_per_s_predrawn']:>9,.0f}  "
          f"({100 * out['reset_share']:.0f}% of the time in resets)")
    print(f"  for scale, gymnasium Box.sample() per step:         "
          f"{out['decisions_per_s_gymnasium_box_sample']:>9,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
