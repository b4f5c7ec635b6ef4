"""Gymnasium environment speed: decisions/s of a random policy on one core.

The scheduling environment of ``dse rl train`` (``dse.rl.SchedulingEnv``) on a design and a
multi-model scenario; the random policy draws every action with
``env.action_space.sample()`` and the loop calls ``env.step`` (resets included, one
trace of ``--requests`` requests per episode).  Time is this thread's CPU time
(``time.thread_time``), so the figure is per core even on a shared machine; the step
function is compiled (or loaded from Numba's cache) before timing.  Also printed: the
share of that time spent drawing traces at resets, and the step function alone (actions
drawn beforehand).

    python benchmarks/bench_rl_env.py [--decisions 200000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cost_models import load_npu  # noqa: E402
from dse.rl import SchedulingEnv, env_settings  # noqa: E402
from workloads import load_scenario  # noqa: E402


def _run(env, decisions: int, actions=None) -> tuple[float, float, int]:
    """CPU seconds of ``decisions`` steps, CPU seconds spent in resets, episodes."""
    env.reset(seed=0)
    env.action_space.seed(0)
    reset_s, episodes = 0.0, 0
    t0 = time.thread_time()
    for i in range(decisions):
        a = env.action_space.sample() if actions is None else actions[i]
        if env.step(a)[2]:
            r0 = time.thread_time()
            env.reset()
            reset_s += time.thread_time() - r0
            episodes += 1
    return time.thread_time() - t0, reset_s, episodes


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
    _run(env, 1000)  # compile / load the step function, warm the caches
    cpu, reset_s, episodes = _run(env, args.decisions)
    actions = [env.action_space.sample() for _ in range(args.decisions)]
    core_cpu, core_reset, _ = _run(env, args.decisions, actions)
    out = {"decisions": args.decisions, "episodes": episodes,
           "decisions_per_s": args.decisions / cpu, "reset_share": reset_s / cpu,
           "decisions_per_s_predrawn_actions": args.decisions / core_cpu,
           "decisions_per_s_without_resets": args.decisions / (core_cpu - core_reset)}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{design.name if hasattr(design, 'name') else args.npu}, {scenario.name}: "
          f"{args.requests} requests per episode, {episodes} episodes")
    print(f"random policy (action_space.sample + env.step, resets included): "
          f"{out['decisions_per_s']:,.0f} decisions/s per core "
          f"({100 * out['reset_share']:.0f}% of the time in resets)")
    print(f"actions drawn beforehand: {out['decisions_per_s_predrawn_actions']:,.0f} "
          f"decisions/s; without resets: {out['decisions_per_s_without_resets']:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
