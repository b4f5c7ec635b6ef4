"""Numba types every kernel and policy function in two rounds of type inference.

A loop variable that starts at a literal (``j = 0``) is typed ``Literal[int](0)``, refined
to int64 when the loop adds to it, and costs the whole function a third round: a third
more of its compile time.  Kernel code starts such variables at ``ZERO``, ``ONE`` or
``MINUS_ONE`` (``dse/sim/_jit.py``), ints that Numba types as int64, not literals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

COUNT = """
import json
from collections import Counter
from numba.core import typeinfer
from dse import sim
from dse.sim import POLICIES

rounds = Counter()  # per type inference (one function, one signature)
propagate = typeinfer.ConstraintNetwork.propagate
def counted(self, ti):
    rounds[(ti.func_id.func_qualname, id(ti))] += 1
    return propagate(self, ti)
typeinfer.ConstraintNetwork.propagate = counted
out = {}
for name in POLICIES:
    rounds.clear()
    sim.warm(name)
    out[name] = {}
    for (fn, _), n in rounds.items():
        out[name][fn] = max(n, out[name].get(fn, 0))
print(json.dumps(out))
"""


def test_loop_start_constants_are_int64_not_literals():
    from numba import typeof, types

    from dse.sim._jit import MINUS_ONE, ONE, ZERO

    for value, plain in ((ZERO, 0), (ONE, 1), (MINUS_ONE, -1)):
        assert value == plain
        assert typeof(value) == types.int64
        assert types.maybe_literal(value) is None  # a plain int would be Literal[int]
        assert types.maybe_literal(plain) is not None


@pytest.mark.heavy
def test_every_policy_types_in_two_rounds(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))  # empty: every function is typed
    proc = subprocess.run([sys.executable, "-c", COUNT], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert "fcfs" in out and "fluid" in out
    slow = {(policy, fn): n for policy, fns in out.items() for fn, n in fns.items() if n > 2}
    assert not slow, slow
