"""Field checkers: one validation vocabulary for every file, table and parameter.

Each checker returns the value typed or raises an :class:`InputError` naming ``source``
(the file), ``field`` (the TOML path or parameter) and, where useful, what is allowed.
Messages: ``expected an integer, got 'x'``; ``expected a number, got 'x'``; ``expected a
finite number, got inf``; ``expected true or false, got 3``; ``expected a string, got 3``;
``must be >= 1, got 0`` (``>`` for an open lower bound, ``<=`` above); ``unknown value
'x' (did you mean 'y'?)`` with the choices as ``allowed``.  Booleans are never numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from dse.common.errors import InputError, did_you_mean


def is_int(value) -> bool:
    """An integer that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_keys(table: dict, allowed: Iterable[str], *, source: str | None,
               prefix: str = "") -> None:
    """Raise for the first key of ``table`` not in ``allowed`` (with a did-you-mean)."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            raise InputError(f"unknown key '{key}'{did_you_mean(str(key), allowed)}",
                             source=source, field=f"{prefix}{key}", allowed=allowed)


def check_table(value, *, source: str | None = None, field: str | None = None) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"expected a table, got {value!r}", source=source, field=field)
    return value


def check_range(value, *, source: str | None = None, field: str | None = None,
                low=None, high=None, low_open: bool = False, allowed: str | None = None):
    """``value`` within ``[low, high]`` (``(low, high]`` when ``low_open``); ``allowed``
    (e.g. the declared range ``1..64``) is shown with the error."""
    if low is not None and (value < low or (low_open and value == low)):
        op = ">" if low_open else ">="
        raise InputError(f"must be {op} {low}, got {value}", source=source, field=field,
                         allowed=allowed)
    if high is not None and value > high:
        raise InputError(f"must be <= {high}, got {value}", source=source, field=field,
                         allowed=allowed)
    return value


def check_int(value, *, source: str | None = None, field: str | None = None, low=None,
              high=None, low_open: bool = False, allowed: str | None = None) -> int:
    if not is_int(value):
        raise InputError(f"expected an integer, got {value!r}", source=source, field=field)
    return check_range(value, source=source, field=field, low=low, high=high,
                       low_open=low_open, allowed=allowed)


def check_float(value, *, source: str | None = None, field: str | None = None, low=None,
                high=None, low_open: bool = False, allowed: str | None = None) -> float:
    """A finite number (int or float) as a float."""
    if not is_number(value):
        raise InputError(f"expected a number, got {value!r}", source=source, field=field)
    if not math.isfinite(value):
        raise InputError(f"expected a finite number, got {value!r}", source=source,
                         field=field)
    return float(check_range(value, source=source, field=field, low=low, high=high,
                             low_open=low_open, allowed=allowed))


def check_bool(value, *, source: str | None = None, field: str | None = None) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"expected true or false, got {value!r}", source=source,
                         field=field)
    return value


def check_str(value, *, source: str | None = None, field: str | None = None,
              empty: bool = True) -> str:
    """A string (non-empty unless ``empty``)."""
    if not isinstance(value, str) or (not empty and not value.strip()):
        what = "a string" if empty else "a non-empty string"
        raise InputError(f"expected {what}, got {value!r}", source=source, field=field)
    return value


def check_choice(value, choices: Iterable, *, source: str | None = None,
                 field: str | None = None, what: str = "value"):
    """``value`` among ``choices`` (``unknown <what> 'x' (did you mean 'y'?)``)."""
    choices = list(choices)
    if isinstance(value, bool) or value not in choices:
        hint = did_you_mean(value, [str(c) for c in choices]) if isinstance(value, str) else ""
        raise InputError(f"unknown {what} {value!r}{hint}", source=source, field=field,
                         allowed=choices)
    return value


def check_numbers(value, *, source: str | None = None, field: str | None = None, low=None,
                  low_open: bool = False) -> tuple[float, ...]:
    """A non-empty list of finite numbers, each within the bound."""
    if not isinstance(value, list | tuple) or not value:
        raise InputError(f"expected a non-empty list of numbers, got {value!r}",
                         source=source, field=field)
    return tuple(check_float(v, source=source, field=field, low=low, low_open=low_open)
                 for v in value)
