"""Learned schedulers (optional extra ``rl``): BCEdge's scheduling problem as a Gymnasium
environment, SAC training and evaluation against the kernel policies.

Public API: :class:`SchedulingEnv`, :func:`env_settings` (``dse.rl.env``).
"""

from dse.rl.env import SchedulingEnv, env_settings

__all__ = ["SchedulingEnv", "env_settings"]
