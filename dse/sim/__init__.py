"""Scheduler simulator: a Numba discrete-event loop over layer-granular batches.

Public API: :data:`POLICIES` (name -> :class:`Policy`; :data:`LEARNED` for policies that
decide in Python, e.g. ``bcedge-rl``), :class:`Param`, :func:`param_slots`,
:func:`always_continues` (the ``continues_at`` of a policy that never interrupts a
batch), :func:`register`, :func:`get_policy`, :func:`simulate` (arrays in,
:class:`SimResult` out), :class:`ModelTables` and :class:`Stepper` (one decision at a
time, the same compiled kernel); :func:`kernel_ready` / :func:`warm` (is a policy's
kernel compiled or cached; compile it now); :func:`expected_batch_ms` (a batch's expected
time under an exit profile).

The policy catalogue imports neither Numba nor NumPy (``dse policies`` and spec
validation read it in milliseconds); the simulator's names load on first use.
"""

from dse.common.lazy import lazy_exports
from dse.sim import policies as _policies  # noqa: F401  (registers the built-in policies)
from dse.sim.registry import (
    LEARNED,
    POLICIES,
    Param,
    Policy,
    always_continues,
    get_policy,
    param_slots,
    register,
)

__getattr__ = lazy_exports(__name__, {
    "expected_batch_ms": "dse.sim._predict",
    **dict.fromkeys(("DEFAULT_QUEUE_CAP", "ModelTables", "SimResult", "Stepper",
                     "kernel_ready", "simulate", "warm"), "dse.sim.core")})


__all__ = ["DEFAULT_QUEUE_CAP", "LEARNED", "POLICIES", "ModelTables", "Param", "Policy",
           "SimResult", "Stepper", "always_continues", "expected_batch_ms", "get_policy",
           "kernel_ready", "param_slots", "register", "simulate", "warm"]
