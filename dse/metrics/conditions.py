"""Conditions on stored metrics: ``slo_attainment>=0.95``,
``streams.voice.slo_attainment >= 0.95`` (``dse export/status --where``).

A condition is ``METRIC OP VALUE`` with OP one of ``>= <= > <`` and METRIC a name
:func:`dse.metrics.check_metric` accepts (any catalogue metric, or
``streams.<stream>.<metric>``), or ``streams.*.<metric>``: every stream must meet it (its
value is the worst stream's).  A trial whose stored metrics lack the metric, or hold a
non-finite value, does not satisfy it.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

from dse.common import InputError
from dse.metrics._registry import EVERY_STREAM, check_metric, metric_value, split_metric

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_PATTERN = re.compile(r"^\s*([^\s<>=]+)\s*(>=|<=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    """``metric op value`` on a trial's stored metrics."""

    metric: str
    op: str
    value: float

    def value_of(self, metrics: dict) -> float:
        """The metric in a stored ``metrics`` dict (NaN when it is not stored); for
        ``streams.*.<metric>`` the value of the stream that is furthest from meeting it."""
        stream, base = split_metric(self.metric)
        try:
            if stream != EVERY_STREAM:
                return metric_value(self.metric, metrics or {})
            values = [float(m[base]) for m in (metrics or {})["streams"].values()]
        except (KeyError, TypeError, ValueError, AttributeError):
            return math.nan
        if not values or not all(math.isfinite(v) for v in values):
            return math.nan
        return min(values) if self.op in (">=", ">") else max(values)

    def holds(self, metrics: dict) -> bool:
        v = self.value_of(metrics)
        return math.isfinite(v) and bool(OPS[self.op](v, self.value))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_condition(text: str, *, streams=(), source: str | None = None,
                    field: str = "--where") -> Condition:
    """Parse ``METRIC OP VALUE`` (spaces optional) into a :class:`Condition`."""
    m = _PATTERN.match(text or "")
    if m is None:
        raise InputError(f"expected METRIC OP VALUE with OP one of >= <= > <, got '{text}' "
                         "(e.g. 'slo_attainment>=0.95')", source=source, field=field)
    metric, op, raw = m.groups()
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"expected a number after '{op}', got '{raw}'", source=source,
                         field=field) from None
    if not math.isfinite(value):
        raise InputError(f"expected a finite number, got '{raw}'", source=source, field=field)
    check_metric(metric, streams=streams, objective=False, source=source, field=field)
    return Condition(metric, op, value)
