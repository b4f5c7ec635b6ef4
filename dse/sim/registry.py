"""Policy registry: every scheduling policy is a plug-in registered by name.

A policy is one module (``dse/sim/policies/<name>.py``) that declares its parameters
(:class:`Param`), derives their slots in the kernel's parameter vector with
:func:`param_slots` (``p[P.max_batch]``, never ``p[0]``), defines its Numba ``decide``
and optionally the ``continues_at`` and ``on_batch_done`` hooks, and ends with
``POLICY = Policy(...)``; one line in ``dse/sim/policies/__init__.py`` registers it.
The CLI (``dse policies``), the spec's search space, ``dse.evaluate``, the kernel (which
is compiled per policy, see :mod:`dse.sim._dispatch`) and the docs tables read
:data:`POLICIES`.

Kernel contract (all ``@njit(cache=True, inline="always")`` with ``njit`` from
:mod:`dse.sim._jit`, so that the catalogue loads without Numba; a helper called from
several places ``@njit(**COMPILED_ONCE)``, which compiles it once; times in ms):

* ``decide(st, tb, p, x, now) -> (act, model, k, wake_ms)``: the action of executor ``x``
  (``dse.sim._state.ACT_*``); ``st``/``tb`` are the simulator state and tables, ``p`` the
  float64 parameter vector.
* ``continues_at(st, tb, p, x, c, m, layer, n) -> bool``: True only when ``decide``
  would continue batch ``c`` (model ``m``, ``n`` active) at the boundary before
  ``layer``; lets the kernel run layers ahead without a trip through the event loop.
  ``st.fv[FV_NOW]`` holds the boundary's time; the batch's own layer and accumulators
  in ``st`` may lag (hence ``layer`` and ``n``).  Default: never (always ask);
  :func:`always_continues` for a policy that never interrupts a batch.
* ``on_batch_done(st, tb, p, c, now)``: called when batch ``c`` empties (after it is
  closed and its executor is marked to decide).  Default: none.

A *learned* policy (``bcedge-rl``) has no kernel functions: it decides in Python through
:class:`dse.sim.Stepper` and gives a ``runner`` instead, an object with
``run(trace, slo_ms, tables_for, resolved, *, queue_cap) -> SimResult``
(``tables_for(n)``: the models' tables on ``n`` slices of the PE array),
``check(resolved)`` (its files' one-line errors, before anything compiles),
``kernel_ready()`` and ``warm(tables)`` (its compiled step function).  It is registered in :data:`LEARNED`, not :data:`POLICIES` (which
studies search and the batch kernel runs); :func:`get_policy` finds both.
"""

from __future__ import annotations

import collections
import inspect
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from dse.common import (
    InputError,
    check_bool,
    check_float,
    check_int,
    did_you_mean,
    is_number,
)
from dse.sim._jit import materialize, njit, resolve


@dataclass(frozen=True)
class Param:
    """One tunable policy parameter: ``kind`` is ``"int"``, ``"float"`` or ``"bool"``;
    ``low``/``high`` bound the search range and valid values (inclusive); ``log`` asks for
    log-scale sampling.  Kind ``"file"`` (a path; ``low``/``high`` unused) is for learned
    policies only: it is never searched nor put in the kernel's vector."""

    name: str
    kind: str
    default: float | int | bool
    low: float | int
    high: float | int
    log: bool = False
    doc: str = ""

    def coerce(self, value, *, source: str = "policy") -> float | int | bool:
        """Validate one user value (a number, or text such as ``--param k=v`` gives) and
        return it typed."""
        field_name = f"{source}.{self.name}" if source else self.name
        if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
            value = value.item()  # a NumPy scalar
        if self.kind == "file":  # checked when the policy opens it
            if not isinstance(value, str | Path):
                raise InputError(f"expected a file path, got {value!r}", field=field_name)
            return str(value).strip()
        if isinstance(value, str):
            value = _parse(value, self.kind, field_name)
        if self.kind == "bool":
            if is_number(value) and value in (0, 1):
                value = bool(value)
            return check_bool(value, field=field_name)
        allowed = f"{self.low}..{self.high}"
        if self.kind == "int":
            if is_number(value) and math.isfinite(value) and float(value) == int(value):
                value = int(value)
            return check_int(value, field=field_name, low=self.low, high=self.high,
                             allowed=allowed)
        return check_float(value, field=field_name, low=self.low, high=self.high,
                           allowed=allowed)


def _parse(text: str, kind: str, field: str):
    """A command-line value: true/false words for booleans, else a number."""
    word = text.strip().lower()
    if kind == "bool":
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise InputError(f"expected true or false, got '{text}'", field=field)
    try:
        return float(word)
    except ValueError:
        raise InputError(f"expected a number, got '{text}'", field=field) from None


def param_slots(params) -> tuple:
    """Name -> position of each parameter in the kernel's parameter vector, as a named
    tuple: ``P = param_slots(PARAMS)`` then ``p[P.max_batch]`` in a policy's kernel code
    (a module-level constant Numba folds into the compiled code)."""
    names = [q.name for q in params]
    return collections.namedtuple("ParamSlots", names)(*range(len(names)))


@njit(cache=True, inline="always", _nrt=False)
def never_continues(st, tb, p, x, c, m, layer, n):
    """Default ``continues_at``: ask ``decide`` at every layer boundary."""
    return False


@njit(cache=True, inline="always", _nrt=False)
def always_continues(st, tb, p, x, c, m, layer, n):
    """``continues_at`` of policies that never interrupt a running batch.  The kernel
    recognises it at compile time: on one executor it runs such a batch ahead past
    arrivals, enqueueing them afterwards (``dse.sim._kernel._advance``)."""
    return True


@njit(cache=True, inline="always", _nrt=False)
def no_batch_hook(st, tb, p, c, now):
    """Default ``on_batch_done``: nothing."""
    return None


_SIM_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Policy:
    """A scheduling policy (see the module docstring for the kernel contract).

    ``params``: its declared parameters, in kernel-vector order; ``instances_param`` names
    the parameter that sets the number of executors (each a ``design.sliced(n)`` slice of
    the PE array), or is empty for one executor; ``reconstruction``: our reading of a
    published scheduler (rules in docs/simulator.md)."""

    name: str
    summary: str
    params: dict[str, Param]
    decide: object = None
    continues_at: object = never_continues
    on_batch_done: object = no_batch_hook
    instances_param: str = ""
    reconstruction: bool = False
    runner: object = None

    def __post_init__(self):
        if not isinstance(self.params, dict):
            object.__setattr__(self, "params", {q.name: q for q in self.params})
        if self.runner is not None:
            if self.decide is not None or self.instances_param:
                raise TypeError(f"policy {self.name!r}: a runner replaces decide and "
                                "instances_param")
            return
        if any(q.kind == "file" for q in self.params.values()):
            raise TypeError(f"policy {self.name!r}: file parameters need a runner")
        for hook in ("decide", "continues_at", "on_batch_done"):
            if not hasattr(getattr(self, hook), "py_func"):
                raise TypeError(f"policy {self.name!r}: {hook} must be a numba.njit function")
        if self.instances_param and self.instances_param not in self.params:
            raise ValueError(f"policy {self.name!r}: no parameter {self.instances_param!r}")

    @cached_property
    def key(self):
        """The kernel's handle on this policy: its name plus a digest of the simulator's
        sources and of the policy's functions, so that an edit recompiles the kernel
        instead of loading a stale cached one (see :mod:`dse.sim._dispatch`)."""
        import hashlib

        from dse.sim._dispatch import PolicyKey  # Numba: imported when a kernel is needed

        if self.runner is not None:
            raise TypeError(f"policy {self.name!r} decides in Python: it has no kernel")
        hooks = [self.decide, self.continues_at, self.on_batch_done]
        materialize([f.py_func.__globals__ for f in hooks])
        hooks = [resolve(f) for f in hooks]
        h = hashlib.sha256()
        files = sorted(set(_SIM_DIR.rglob("*.py"))
                       | {Path(inspect.getsourcefile(f.py_func)).resolve() for f in hooks})
        for path in files:
            h.update(path.read_bytes())
        for f in hooks:
            h.update(f"{f.py_func.__module__}.{f.py_func.__qualname__}".encode())
        always = hooks[1].py_func is always_continues.py_func
        return PolicyKey(self.name, h.hexdigest()[:16], *hooks, always)

    def defaults(self) -> dict:
        return {k: p.default for k, p in self.params.items()}

    def resolve(self, params: dict | None, *, source: str = "policy") -> dict:
        """Defaults overlaid with ``params``, each validated; unknown names are errors."""
        params = dict(params or {})
        out = self.defaults()
        for key, value in params.items():
            if key not in self.params:
                allowed = list(self.params) or ["(none)"]
                raise InputError(
                    f"unknown parameter '{key}' of policy '{self.name}'"
                    f"{did_you_mean(key, self.params)}",
                    field=f"{source}.{key}" if source else key, allowed=allowed)
            out[key] = self.params[key].coerce(value, source=source)
        return out

    def check_files(self, resolved: dict) -> None:
        """A learned policy's files (``resolved`` by :meth:`resolve`): their one-line
        errors now, before a command compiles or simulates anything."""
        if self.runner is not None:
            self.runner.check(resolved)

    def vector(self, resolved: dict):
        """The float64 parameter vector the kernel reads (declaration order)."""
        import numpy as np

        return np.array([float(resolved[k]) for k in self.params], dtype=np.float64)

    def instances(self, resolved: dict) -> int:
        return int(resolved[self.instances_param]) if self.instances_param else 1


POLICIES: dict[str, Policy] = {}
"""The kernel policies: studies search them, ``dse compare`` runs them by default."""
LEARNED: dict[str, Policy] = {}
"""Learned policies (a ``runner``, a trained network file): run when named."""


def register(policy: Policy) -> Policy:
    """Add a policy to :data:`POLICIES`, or to :data:`LEARNED` when it has a runner
    (names are unique across both)."""
    if policy.name in POLICIES or policy.name in LEARNED:
        raise ValueError(f"policy {policy.name!r} registered twice")
    (LEARNED if policy.runner is not None else POLICIES)[policy.name] = policy
    return policy


def get_policy(name: str) -> Policy:
    """Look a policy up by name (kernel or learned); an unknown name lists the valid ones."""
    found = POLICIES.get(name) or LEARNED.get(name)
    if found is None:
        names = [*POLICIES, *LEARNED]
        raise InputError(f"unknown policy '{name}'{did_you_mean(name, names)}",
                         field="policy", allowed=names)
    return found
