"""bcedge-rl: BCEdge's learned scheduler (Zhang et al., arXiv 2305.01519) -- a trained
maximum-entropy RL agent (stable-baselines3 SAC, trained by ``dse rl train``) picks the
batch size and the number of concurrent instances at every dispatch.

Unlike the kernel policies it decides in Python, one decision at a time through
:class:`dse.sim._learned.DispatchCore` (a :class:`dse.sim.Stepper`), with the network on
the CPU; it needs the optional extra ``rl`` and a policy file (``model``).  It is not
searchable and studies do not run it (rules: docs/simulator.md, "Learned schedulers").
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from dse.common import InputError, RunError
from dse.sim.registry import Param, Policy

if TYPE_CHECKING:  # NumPy and the Numba step load when the policy runs
    import numpy as np

    from dse.sim._learned import DispatchCore

#: Entry of the policy zip holding the environment settings the network was trained with.
SETTINGS_ENTRY = "dse_policy.json"
#: Format of that entry (raise when the environment's observation or actions change).
SETTINGS_VERSION = 1

PARAMS = (Param("model", "file", "", "", "", False,
                "policy file written by `dse rl train` (a stable-baselines3 SAC zip)"),)


def require_rl() -> None:
    """Raise a one-line :class:`RunError` when the optional extra ``rl`` is missing."""
    import importlib.util

    missing = [m for m in ("gymnasium", "stable_baselines3", "torch")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise RunError(f"the learned scheduler needs the optional extra 'rl' "
                       f"(missing: {', '.join(missing)}): pip install -e '.[rl]'")


def choice(action, max_batch: int, n_parts: int) -> tuple[int, int]:
    """Map a continuous action in [-1, 1]^2 to ``(batch size, partition index)``: the
    interval is cut into ``max_batch`` (resp. ``n_parts``) equal bins, lowest first
    (:func:`dse.sim._learned.choose`, as the compiled step maps the env's actions)."""
    from dse.sim._learned import choose

    a0, a1 = action.tolist() if hasattr(action, "tolist") else action
    batch, part = choose(float(a0), float(a1), int(max_batch), int(n_parts))
    if batch < 0:
        raise ValueError("the action is NaN")
    return batch, part


def action_for(batch: int, part: int, max_batch: int, n_parts: int) -> np.ndarray:
    """The action at the centre of the bins of ``(batch, part)`` (inverse of :func:`choice`)."""
    import numpy as np

    return np.array([(batch - 0.5) / max_batch * 2.0 - 1.0,
                     (part + 0.5) / n_parts * 2.0 - 1.0], dtype=np.float32)


def exit_means(model, exit, tables) -> np.ndarray:
    """Per model, the mean share of its layers a request runs (the exit-profile summary
    the agent observes), over the run's trace: an aggregate, never one request's exit."""
    import numpy as np

    out = np.ones(len(tables))
    model, exit = np.asarray(model), np.asarray(exit)
    for m, t in enumerate(tables):
        e = exit[model == m]
        if e.size:
            out[m] = float(np.mean(np.asarray(t.exit_layers)[e] + 1) / t.ms.shape[0])
    return out


def core_for(trace, slo_ms, tables_for, settings: dict, *, queue_cap: int,
             cache: dict | None = None) -> DispatchCore:
    """A :class:`DispatchCore` for ``trace`` with ``settings`` (``max_batch``,
    ``instances``, ``latency_weight``, ``violation_penalty``); ``tables_for(n)`` gives
    the models' tables on ``n`` array slices (the same for every call with ``cache``, a
    dict the caller keeps to reuse the packed tables across runs)."""
    from dse.sim._learned import DispatchCore

    tables = [tables_for(n) for n in settings["instances"]]
    return DispatchCore(trace.arrival_ms, trace.stream, trace.model, trace.exit, slo_ms,
                        tables, settings["instances"], max_batch=settings["max_batch"],
                        latency_weight=settings["latency_weight"],
                        violation_penalty=settings["violation_penalty"],
                        exit_mean=exit_means(trace.model, trace.exit, tables[0]),
                        queue_cap=queue_cap, cache=cache)


def save_settings(path, settings: dict) -> None:
    """Add the environment settings to a saved policy zip."""
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(SETTINGS_ENTRY, json.dumps({"version": SETTINGS_VERSION, **settings}))


def read_settings(path, *, field: str = "model") -> dict:
    """The environment settings of a policy file (without loading its network); one-line
    errors for a missing file or one that is not a policy written by ``dse rl train``."""
    p = Path(str(path))
    if not str(path):
        raise InputError("give the policy file written by `dse rl train` "
                         "(model=POLICY.zip)", field=field)
    if not p.is_file():
        raise InputError(f"no such file: {p}", field=field)
    try:
        with zipfile.ZipFile(p) as z:
            settings = json.loads(z.read(SETTINGS_ENTRY))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise InputError(f"{p} is not a policy written by `dse rl train`",
                         field=field) from None
    if not isinstance(settings, dict) or settings.get("version") != SETTINGS_VERSION:
        version = settings.get("version") if isinstance(settings, dict) else None
        raise InputError(f"{p} was written by another version of `dse rl train` (format "
                         f"{version}, expected {SETTINGS_VERSION})", field=field)
    return settings


def load(path, *, field: str = "model"):
    """``(settings, SAC model on the CPU)`` of a policy file; one-line errors for a
    missing file or one that is not a policy written by ``dse rl train``."""
    require_rl()
    settings = read_settings(path, field=field)
    p = Path(str(path))
    from stable_baselines3 import SAC

    try:
        agent = SAC.load(p, device="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable network is the same mistake
        raise InputError(f"{p} is not a readable stable-baselines3 SAC policy "
                         f"({type(exc).__name__})", field=field) from None
    return settings, agent


def decide_all(core: DispatchCore, agent) -> None:
    """Run ``core`` to the end with the agent's deterministic (mean) actions (mapped by
    :meth:`DispatchCore.act` with the settings ``core`` was made with), on one CPU
    thread (a tiny network: more threads only contend, and one gives the same sums on
    every machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        while not core.done:
            action, _ = agent.predict(core.obs, deterministic=True)
            core.act(*action.tolist())
    finally:
        torch.set_num_threads(threads)


#: Policies loaded in this process, by (file, modification time, size): a sweep runs the
#: same agent many times.
_LOADED: dict = {}


def _load_once(path):
    p = Path(str(path))
    try:
        st = p.stat()
    except OSError:
        return load(path, field="model")  # the one-line error
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _LOADED:
        _LOADED[key] = load(path, field="model")
    return _LOADED[key]


def run(trace, slo_ms, tables_for, resolved: dict, *, queue_cap: int):
    """Simulate ``trace`` under the trained agent of ``resolved["model"]``; returns the
    :class:`dse.sim.SimResult`."""
    import time

    from dse.sim._learned import observation_size

    t0 = time.perf_counter()
    settings, agent = _load_once(resolved["model"])
    names = list(trace.model_names)
    if settings["models"] != names:
        raise InputError(f"the policy was trained for models {settings['models']}, the "
                         f"scenario has {names}", field="model")
    core = core_for(trace, slo_ms, tables_for, settings, queue_cap=queue_cap)
    expected = observation_size(len(names), settings["instances"][-1])
    if agent.observation_space.shape != (expected,):
        raise InputError("the policy's network does not match its settings", field="model")
    decide_all(core, agent)
    res = core.result()
    res.sim_seconds = time.perf_counter() - t0  # network inference included
    return res


def check(resolved: dict) -> None:
    """The policy file's one-line errors (and the missing extra's), before anything is
    compiled or simulated; its network is read when the policy runs."""
    require_rl()
    read_settings(resolved["model"], field="model")


def kernel_ready() -> bool:
    """True when the step function is compiled in this process or in Numba's cache."""
    from dse.common import compiled_or_cached
    from dse.sim._learned import _step

    return compiled_or_cached(_step)


def warm(t) -> None:
    """Compile (or load) the step function on a tiny two-request run over tables ``t``."""
    import numpy as np

    from dse.sim._learned import DispatchCore

    core = DispatchCore(np.array([0.0, 0.5]), [0, 0], [0, 0], [0, 1], [5.0], [[t], [t]],
                        (1, 2), max_batch=2, latency_weight=1.0, violation_penalty=1.0,
                        exit_mean=[1.0])
    while not core.done:
        core.step(1, 0)


POLICY = Policy(
    "bcedge-rl",
    "BCEdge's learned scheduler: a trained max-entropy RL agent (SAC) picks batch size "
    "and concurrent instances per dispatch; decides in Python (extra 'rl')", PARAMS,
    runner=SimpleNamespace(run=run, check=check, kernel_ready=kernel_ready, warm=warm),
    reconstruction=True)
