"""A Gymnasium environment over the simulator: BCEdge's dispatch decisions.

One episode is one trace of ``requests`` requests drawn from the scenario (a new trace
seed per episode, from the environment's seeded generator).  A step is one dispatch of
:class:`dse.sim._learned.DispatchCore`: the agent picks the batch size and the number of
concurrent instances (PE-array slices); observation, reward and re-partition rules are in
docs/simulator.md ("Learned schedulers").

Observation (float32, every entry in [-1, 1]), per model ``m``: queued / (4 x max_batch)
(capped at 1), head slack / the model's SLO (clipped), mean share of its layers a request
runs; per executor: active batch / max_batch and layer / layers (0 when idle, -1 when its
slice is not in the current partition); then the partition index / (choices - 1), recent
throughput / the best whole-array throughput of model 0, recent SLO attainment.

Action: two numbers in [-1, 1] (SAC's continuous actions): the first cut into
``max_batch`` equal bins (batch size 1..max_batch, lowest first), the second into as many
bins as there are instance choices (``dse.sim.policies.bcedge_rl.choice``).

Speed (``benchmarks/bench_rl_env.py``): a step is one call of the compiled step function,
which maps the action, runs the simulator to the next decision and writes the
observation and reward into arrays of the run, plus a copy of the observation (a fresh
array per step, since learners may keep it); a reset reuses the packed latency tables.
The action space's ``sample()`` draws the same numbers as Gymnasium's ``Box.sample``,
in blocks (``ActionBox``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from dse.common import InputError, check_float, check_int
from dse.evaluation import isolated_ms, model_table
from dse.sim import DEFAULT_QUEUE_CAP, ModelTables
from dse.sim._learned import MAX_PARTS, observation_size
from dse.sim.policies.bcedge_rl import core_for
from workloads import get_model

#: Instance counts the agent may choose from: those <= max_instances and <= max_batch
#: (each instance batches up to max_batch / instances) that divide the PE count.
INSTANCE_CHOICES = (1, 2, 4, 8)
assert len(INSTANCE_CHOICES) <= MAX_PARTS


def env_settings(design, scenario, *, max_batch: int = 8, max_instances: int = 4,
                 latency_weight: float = 2.0, violation_penalty: float = 1.0,
                 requests: int = 2000) -> dict:
    """The environment settings a policy file records (validated; ``max_batch`` capped
    at the design's)."""
    check_int(max_batch, field="max_batch", low=1, high=64)
    check_int(max_instances, field="max_instances", low=1, high=INSTANCE_CHOICES[-1])
    check_float(latency_weight, field="latency_weight", low=0.0, high=10.0)
    check_float(violation_penalty, field="violation_penalty", low=0.0, high=100.0)
    check_int(requests, field="requests", low=1)
    max_batch = min(int(max_batch), int(design.max_batch))
    instances = [n for n in INSTANCE_CHOICES
                 if n <= min(max_instances, max_batch) and design.pe_count % n == 0]
    return {"max_batch": max_batch, "instances": instances,
            "latency_weight": float(latency_weight),
            "violation_penalty": float(violation_penalty), "requests": int(requests),
            "models": list(scenario.models)}


class ActionBox(gym.spaces.Box):
    """The action space, the box [-1, 1]^n (float32), with a cheaper :meth:`sample`.

    ``Box.sample`` sorts every coordinate into unbounded, half-bounded and bounded ones
    and checks the dtype on each call, which costs several environment steps
    (``benchmarks/bench_rl_env.py``); here every coordinate is bounded, so
    :meth:`sample` hands out the rows of ``np_random.uniform(-1, 1, (BLOCK, n))``, drawn
    a block at a time: the very numbers successive ``Box.sample`` calls draw from the
    same generator state (a generator draws a block's numbers one after the other).
    Only the generator's own state differs between samples: it is a block ahead, so
    code drawing from ``np_random`` directly between samples (or ``sample`` with a
    mask, which is Gymnasium's) sees other numbers than with ``Box``.  :meth:`seed`
    drops the block.  A sample is a row of the block (a view, handed out once)."""

    BLOCK = 256

    def __init__(self, n: int):
        super().__init__(-1.0, 1.0, (n,), np.float32)
        self._block = np.empty((0, n), np.float32)
        self._next = 0

    def seed(self, seed=None):
        self._block, self._next = self._block[:0], 0
        return super().seed(seed)

    def sample(self, mask=None, probability=None):
        if mask is not None or probability is not None:
            return super().sample(mask, probability)  # Gymnasium's error message
        i = self._next
        if i == len(self._block):
            self._block = self.np_random.uniform(
                -1.0, 1.0, (self.BLOCK, *self.shape)).astype(np.float32)
            i = 0
        self._next = i + 1
        return self._block[i]


class SchedulingEnv(gym.Env):
    """BCEdge's scheduling problem on one NPU design and scenario (see the module
    docstring); ``settings`` from :func:`env_settings`."""

    metadata = {"render_modes": []}

    def __init__(self, design, scenario, settings: dict | None = None, *,
                 queue_cap: int = DEFAULT_QUEUE_CAP):
        self.design, self.scenario = design, scenario
        self.settings = settings or env_settings(design, scenario)
        if self.settings["models"] != list(scenario.models):
            raise InputError(f"settings for models {self.settings['models']}, scenario has "
                             f"{list(scenario.models)}", field="models")
        self.queue_cap = queue_cap
        self.slo_ms = scenario.slo_ms(isolated_ms(design, scenario.models))
        self._tables = {n: self._slice_tables(n) for n in self.settings["instances"]}
        n_obs = observation_size(len(scenario.models), self.settings["instances"][-1])
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (n_obs,), np.float32)
        self.action_space = ActionBox(2)
        self._cache: dict = {}  # packed tables, shared by every episode's run
        self.core = None

    def _slice_tables(self, n: int) -> list[ModelTables]:
        d = self.design if n == 1 else self.design.sliced(n)
        return [ModelTables(t.ms, t.energy_uj, t.utilisation, get_model(name).exit_layers)
                for name in self.scenario.models for t in (model_table(d, name),)]

    def start(self, trace):
        """Begin an episode on a given trace; returns ``(observation, info)``."""
        self.core = core_for(trace, self.slo_ms, self._tables.__getitem__, self.settings,
                             queue_cap=self.queue_cap, cache=self._cache)
        return self.core.obs.copy(), self.core.info()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        trace_seed = int(self.np_random.integers(2**31 - 1))
        return self.start(self.scenario.trace(self.settings["requests"], trace_seed))

    def step(self, action):
        """One dispatch; ``info`` is empty except at the end of the episode
        (:meth:`dse.sim._learned.DispatchCore.info`)."""
        core = self.core
        over = core.act(*(action.tolist() if hasattr(action, "tolist") else action))
        return core.obs.copy(), core.reward, over, False, core.info() if over else {}
