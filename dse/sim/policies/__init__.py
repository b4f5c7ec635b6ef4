"""The built-in scheduling policies (rules: docs/simulator.md).

Adding a policy is one module here (its parameters, its Numba ``decide`` and optional
hooks, ``POLICY = Policy(...)``; see :mod:`dse.sim.registry`) plus one line in
``_MODULES``.  ``max_batch`` of every policy is capped at the design's ``max_batch``
(the latency tables have no larger column).
"""

from __future__ import annotations

import importlib

from dse.sim.registry import register

_MODULES = (
    "dse.sim.policies.fcfs",
    "dse.sim.policies.static",
    "dse.sim.policies.adaptive",
    "dse.sim.policies.lazy",
    "dse.sim.policies.prema",
    "dse.sim.policies.bcedge",
    "dse.sim.policies.fluid",
    "dse.sim.policies.bcedge_rl",  # learned: decides in Python (extra 'rl')
)

for _name in _MODULES:
    register(importlib.import_module(_name).POLICY)
