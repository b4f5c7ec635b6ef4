"""Gymnasium environment speed: decisions/s of a random policy on one core.

The scheduling environment of ``dse rl train`` (``dse.rl.SchedulingEnv``) on a design and a
multi-model scenario, stepped by a uniform random policy over the action box [-1, 1]^2
(resets included, one trace of ``--requests`` requests per episode).  Three figures,
each from the same loop with the actions drawn differently:

* ``action_space.sample()`` per step (the issue's random policy; the env's action space
  draws what Gymnasium's ``Box.sample`` draws, without its generic set-up);
* actions drawn beforehand in one vectorised call of a seeded ``numpy`` Generator, as a
  fast random agent (or a vectorised learner) would: ``env.step`` and resets only;
* Gymnasium's own ``Box.sample`` per step, for scale.

and, as the floor of the loop, the same loop (pre-drawn actions) over a trivial
Gymnasium environment whose ``step`` returns a preallocated observation and constants.

Time is this thread's CPU time (``time.thread_time``), so the figures are per core even
on a shared machine (contention for caches still slows them); the step function is
compiled (or loaded from Numba's cache) before timing.  Also printed: the share of the
time spent in resets (drawing a trace, setting up its run) and the load average.
``--against REV`` also runs this benchmark on git revision ``REV`` (exported into a
temporary folder, run in a subprocess), alternating with this code for ``--rounds``
rounds (best of each), so one run shows a change's before and after as ratios.

    python benchmarks/bench_rl_env.py [--decisions 200000] [--requests 2000]
                                      [--against REV [--rounds 2]]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from check_identity import export_revision, run_in_tree  # noqa: E402  (this folder: run as a script)

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


class _Trivial(gym.Env):
    """The least a Gymnasium environment can do per step (the loop's floor)."""

    def __init__(self, env):
        self.observation_space, self.action_space = env.observation_space, env.action_space
        self._obs = np.zeros(env.observation_space.shape, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs, {}

    def step(self, action):
        return self._obs, 0.0, False, False, {}


def measure(args) -> dict:
    """This code's figures (decisions/s per core)."""
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
    t_sample, _ = _run(env, n, lambda i: space.sample())
    t_pre, r_pre = _run(env, n, predrawn.__getitem__)
    t_box, _ = _run(env, n, lambda i: box.sample())
    t_triv, _ = _run(_Trivial(env), n, predrawn.__getitem__)
    return {"decisions": n, "requests_per_episode": args.requests,
            "decisions_per_s_sample": n / t_sample,
            "decisions_per_s_predrawn": n / t_pre,
            "decisions_per_s_gymnasium_box_sample": n / t_box,
            "decisions_per_s_trivial_env": n / t_triv,
            "reset_share": r_pre / t_pre}


def _measure_in(tree: Path, args) -> dict:
    """The figures of the code in ``tree`` (its own copy of this benchmark)."""
    return json.loads(run_in_tree(tree, [
        "benchmarks/bench_rl_env.py", "--json", "--npu", args.npu, "--scenario",
        args.scenario, "--decisions", str(args.decisions), "--requests", str(args.requests)]))


ROWS = (("decisions_per_s_sample", "random policy, env.action_space.sample() per step"),
        ("decisions_per_s_predrawn", "random policy, actions drawn beforehand (numpy)"),
        ("decisions_per_s_gymnasium_box_sample", "for scale, gymnasium Box.sample() per step"),
        ("decisions_per_s_trivial_env", "floor: trivial Gymnasium env, pre-drawn actions"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npu", default=str(ROOT / "cost_models/designs/npu_wide.toml"))
    ap.add_argument("--scenario",
                    default=str(ROOT / "workloads/data/scenarios/camera_and_voice.toml"))
    ap.add_argument("--decisions", type=int, default=200_000)
    ap.add_argument("--requests", type=int, default=2000, help="requests per episode")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--against", help="git revision also measured (before/after)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="with --against: alternating rounds, best of each")
    args = ap.parse_args()
    args.npu, args.scenario = str(Path(args.npu).resolve()), str(Path(args.scenario).resolve())
    load = [os.getloadavg()[0]]
    if args.json:
        print(json.dumps(measure(args), indent=2))
        return 0
    ref = None
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            export_revision(args.against, Path(tmp))
            runs = []
            for _ in range(args.rounds):
                runs.append((_measure_in(Path(tmp), args), measure(args)))
                load.append(os.getloadavg()[0])
        for i, (a, b) in enumerate(runs):
            print(f"round {i + 1}: " + ", ".join(
                f"{k.removeprefix('decisions_per_s_')} {b[k]:,.0f} vs {a[k]:,.0f}"
                for k, _ in ROWS if k in a), flush=True)
        ref = {k: max(r[0][k] for r in runs) for k in runs[0][0]}
        out = {k: max(r[1][k] for r in runs) for k in runs[0][1]}
    else:
        out = measure(args)
        load.append(os.getloadavg()[0])
    print(f"{Path(args.npu).name}, {Path(args.scenario).stem}: {args.decisions} decisions, "
          f"{args.requests} requests per episode; decisions/s per core (CPU time), resets "
          f"included; 1-minute load average {min(load):.1f}-{max(load):.1f}")
    head = f"  {'':<52} {'this code':>10}"
    if ref:
        head += f" {args.against:>12} {'ratio':>6}   (best of {args.rounds} rounds)"
    print(head)
    for key, label in ROWS:
        line = f"  {label:<52} {out[key]:>10,.0f}"
        if ref and key in ref:
            line += f" {ref[key]:>12,.0f} {out[key] / ref[key]:>6.2f}"
        print(line)
    print(f"  share of the pre-drawn loop's time in resets: {100 * out['reset_share']:.0f}%"
          + (f" ({args.against}: {100 * ref['reset_share']:.0f}%)" if ref else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
