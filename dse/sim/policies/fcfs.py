"""fcfs: first come first served, batch 1, each request runs to its exit."""

from __future__ import annotations

from dse.sim._jit import njit
from dse.sim._state import (
    ACT_CONTINUE,
    XI_CTX,
)
from dse.sim.policies._shared import start_oldest
from dse.sim.registry import Policy, always_continues


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    if st.xi[XI_CTX, x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    return start_oldest(st, 1)


POLICY = Policy("fcfs", "first come first served, batch 1, run to the request's exit", (),
                decide, continues_at=always_continues)
