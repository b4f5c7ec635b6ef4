"""Train BCEdge's max-entropy agent (stable-baselines3 SAC) and evaluate it.

:func:`train` runs SAC on :class:`dse.rl.SchedulingEnv` and writes a policy zip (the SB3
model plus the environment settings, ``dse.sim.policies.bcedge_rl.SETTINGS_ENTRY``).
Training is single-threaded and deterministic for a seed: the same seed, design,
scenario and settings give the same network, bit for bit, on the same machine (PyTorch's
math libraries pick their code paths per CPU model, so another processor may differ in
the last digits).  Training episodes draw their
trace seeds at or above :data:`TRAIN_SEED_BASE`; :func:`evaluate_agent` uses seeds
below it (held out).

:func:`utility` is the run-level BCEdge-style utility every policy is scored with
(docs/simulator.md, "Learned schedulers").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dse.common import InputError
from dse.evaluation import evaluate, isolated_ms, model_table
from dse.metrics.stats import mean_ci
from dse.rl.env import SchedulingEnv, env_settings
from dse.sim.policies.bcedge_rl import save_settings

#: Training traces use seeds >= this; evaluation seeds lie below (held out).
TRAIN_SEED_BASE = 1 << 20
#: SAC settings (stable-baselines3 names); the rest are SB3's defaults.
SAC_SETTINGS = {"learning_rate": 3e-4, "buffer_size": 200_000, "batch_size": 256,
                "gamma": 0.95, "train_freq": 1, "gradient_steps": 1, "ent_coef": "auto",
                "policy_kwargs": {"net_arch": [64, 64]}}
#: Baselines :func:`evaluate_agent` compares with (default parameters; ``max_batch`` set
#: to the agent's, per instance for ``bcedge``).
BASELINES = ("bcedge", "static", "adaptive", "fluid")


class _TrainEnv(SchedulingEnv):
    """Training episodes: trace seeds drawn at or above :data:`TRAIN_SEED_BASE`."""

    def reset(self, *, seed=None, options=None):
        super(SchedulingEnv, self).reset(seed=seed)
        trace_seed = TRAIN_SEED_BASE + int(self.np_random.integers(2**30))
        return self.start(self.scenario.trace(self.settings["requests"], trace_seed))


def train(design, scenario, out, *, steps: int = 20000, seed: int = 0,
          settings: dict | None = None,
          on_step: Callable[[int], None] | None = None):
    """Train SAC for ``steps`` decisions and write the policy zip ``out``; returns
    ``(agent, settings written)``.  ``on_step(n)`` is called after every decision."""
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    out = Path(out)
    if out.suffix != ".zip":
        raise InputError(f"must end in .zip, got '{out}'", field="out")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"must be an integer >= 1, got {steps!r}", field="steps")
    settings = dict(settings or env_settings(design, scenario))
    env = _TrainEnv(design, scenario, settings)

    class Progress(BaseCallback):
        def _on_step(self) -> bool:
            if on_step is not None:
                on_step(self.num_timesteps)
            return True

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core, and the same sums in the same order every run
    try:
        agent = SAC("MlpPolicy", env, seed=seed, device="cpu", verbose=0,
                    learning_starts=min(1000, max(steps // 10, 1)), **SAC_SETTINGS)
        agent.learn(total_timesteps=steps, callback=Progress())
    finally:
        torch.set_num_threads(threads)
    out.parent.mkdir(parents=True, exist_ok=True)
    agent.save(out)
    settings["trained"] = {"steps": steps, "seed": seed, "scenario": scenario.name,
                           "algorithm": "SAC (stable-baselines3)", "npu": design.to_dict()}
    save_settings(out, settings)
    return agent, settings


def utility(design, scenario, requests: dict, latency_weight: float, max_batch: int,
            warmup: float = 0.1) -> float:
    """Run-level BCEdge-style utility of one run's ``requests`` (arrays ``arrival_ms,
    completion_ms, dropped, stream``, as ``dse.evaluate(...).requests``).

    ``U = sum_i w_i / R_m(i) / window``: over measured requests (warm-up share excluded by
    arrival order), ``w_i = min(1, SLO / latency)^latency_weight`` for a completed request
    and 0 for a dropped one, ``R_m = max_b b / T(b)`` the whole design's best throughput
    on the request's model (requests/ms, ``b <= max_batch``), ``window`` the span of
    measured arrivals (ms).  A design kept busy at its best throughput, every request on
    time, scores its load; latency beyond the SLO and drops lower it.
    """
    r = requests
    n0 = int(np.floor(warmup * r["arrival_ms"].size))
    arrival, stream = r["arrival_ms"][n0:], r["stream"][n0:]
    done, dropped = r["completion_ms"][n0:], r["dropped"][n0:]
    slo = np.asarray(scenario.slo_ms(isolated_ms(design, scenario.models)))[stream]
    best = []
    for s in scenario.streams:
        t = model_table(design, s.model).ms[:, 1:max_batch + 1].sum(axis=0)
        best.append(max((b + 1) / ms for b, ms in enumerate(t)))
    rate = np.asarray(best)[stream]
    latency = np.where(dropped, np.inf, done - arrival)
    w = np.where(dropped, 0.0, np.minimum(1.0, slo / np.maximum(latency, 1e-12))
                 ** latency_weight)
    window = max(float(arrival[-1] - arrival[0]), 1e-9)
    return float(np.sum(w / rate) / window)


# Ranges the intervals are clipped to: a share, a rate.
_BOUNDS = {"slo_attainment": (0.0, 1.0), "throughput_rps": (0.0, float("inf"))}


def evaluate_agent(design, scenario, model_path, *, seeds=range(5), n_requests: int = 5000,
                   baselines=BASELINES,
                   on_run: Callable[[], None] | None = None) -> dict:
    """Score the trained policy ``model_path`` and ``baselines`` on the traces of
    ``seeds`` (held out: below :data:`TRAIN_SEED_BASE`); returns, per policy, the mean
    and 95% t interval over seeds of ``utility``, ``slo_attainment`` and
    ``throughput_rps``, plus the per-seed values."""
    from dse.sim.policies.bcedge_rl import load

    settings, _ = load(model_path, field="model")
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 or s >= TRAIN_SEED_BASE for s in seeds):
        raise InputError(f"evaluation seeds must lie in 0..{TRAIN_SEED_BASE - 1} (held out "
                         "from training)", field="seeds")
    mb = settings["max_batch"]
    params = {"bcedge-rl": {"model": str(model_path)}}
    for name in baselines:
        params[name] = ({"max_batch": max(1, mb // 2)} if name == "bcedge"
                        else {"max_batch": mb})
    values = {name: {"utility": [], "slo_attainment": [], "throughput_rps": []}
              for name in params}
    for seed in seeds:
        trace = scenario.trace(n_requests, seed)
        for name, p in params.items():
            ev = evaluate(design, scenario, name, p, seed=seed, trace=trace)
            o = ev.metrics["overall"]
            v = values[name]
            v["utility"].append(utility(design, scenario, ev.requests,
                                              settings["latency_weight"], mb))
            v["slo_attainment"].append(float(o["slo_attainment"]))
            v["throughput_rps"].append(float(o["throughput_rps"]))
            if on_run is not None:
                on_run()
    out = {"seeds": seeds, "requests": n_requests, "settings": settings,
           "params": params, "policies": {}}
    for name, v in values.items():
        out["policies"][name] = {
            key: dict(zip(("mean", "ci_low", "ci_high"), mean_ci(xs, bounds=_BOUNDS.get(key)),
                          strict=True), values=xs) for key, xs in v.items()}
    return out
