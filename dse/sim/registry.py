"""Policy registry: every scheduling policy is registered by name with declared parameters.

The CLI (``dse policies``), the search space and ``dse.evaluate`` discover policies here.
A policy's parameters reach the Numba kernel as a float64 vector in declaration order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dse.common import (
    InputError,
    check_bool,
    check_float,
    check_int,
    did_you_mean,
    is_number,
)


@dataclass(frozen=True)
class Param:
    """One tunable policy parameter: ``kind`` is ``"int"``, ``"float"`` or ``"bool"``;
    ``low``/``high`` bound the search range and valid values (inclusive); ``log`` asks for
    log-scale sampling."""

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
        if isinstance(value, np.generic):
            value = value.item()
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


@dataclass(frozen=True)
class Policy:
    """A registered scheduling policy: ``pid`` is its id inside the Numba kernel.

    ``instances_param`` names the parameter that sets the number of executors (each a
    ``design.sliced(n)`` slice of the PE array), or is empty for one executor."""

    name: str
    pid: int
    summary: str
    params: dict[str, Param] = field(default_factory=dict)
    instances_param: str = ""
    reconstruction: bool = False

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

    def vector(self, resolved: dict) -> np.ndarray:
        """The float64 parameter vector the kernel reads (declaration order)."""
        return np.array([float(resolved[k]) for k in self.params], dtype=np.float64)

    def instances(self, resolved: dict) -> int:
        return int(resolved[self.instances_param]) if self.instances_param else 1


POLICIES: dict[str, Policy] = {}


def register(policy: Policy) -> Policy:
    """Add a policy to :data:`POLICIES` (names and kernel ids must be unique)."""
    if policy.name in POLICIES:
        raise ValueError(f"policy {policy.name!r} registered twice")
    if any(p.pid == policy.pid for p in POLICIES.values()):
        raise ValueError(f"policy id {policy.pid} registered twice")
    POLICIES[policy.name] = policy
    return policy


def get_policy(name: str) -> Policy:
    """Look a policy up by name; an unknown name lists the valid ones."""
    if name not in POLICIES:
        raise InputError(f"unknown policy '{name}'{did_you_mean(name, POLICIES)}",
                         field="policy", allowed=list(POLICIES))
    return POLICIES[name]
