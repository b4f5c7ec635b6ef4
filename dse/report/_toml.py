"""A small TOML writer for design files (the stdlib reads TOML but does not write it).

Covers what a design file holds: nested tables, arrays of tables, strings, booleans,
integers, floats (``repr`` round-trips exactly through ``tomllib``; ``inf``/``nan`` use
TOML's spellings) and arrays of scalars.  ``None`` has no TOML spelling: keys whose value
is ``None`` are left out, and readers treat a missing key as ``None``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    key = str(key)
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are a subset of TOML basic-string escapes; TOML also forbids raw DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v) for v in value if v is not None) + "]"
    if isinstance(value, Mapping):  # inline table (only inside arrays of scalars/mixed)
        items = ", ".join(f"{_key(k)} = {_scalar(v)}" for k, v in value.items() if v is not None)
        return "{" + items + "}" if items else "{}"
    # numpy scalars and other number-likes
    if hasattr(value, "item"):
        return _scalar(value.item())
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(v, Mapping) for v in value))


def _emit_table(lines: list[str], path: list[str], table: Mapping, header: str | None) -> None:
    scalars = [(k, v) for k, v in table.items()
               if v is not None and not isinstance(v, Mapping) and not _is_table_array(v)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    arrays = [(k, v) for k, v in table.items() if _is_table_array(v)]
    if header is not None and (scalars or not (subtables or arrays)):
        if lines:
            lines.append("")
        lines.append(header)
    for k, v in scalars:
        lines.append(f"{_key(k)} = {_scalar(v)}")
    for k, v in subtables:
        sub = [*path, _key(k)]
        _emit_table(lines, sub, v, "[" + ".".join(sub) + "]")
    for k, v in arrays:
        sub = [*path, _key(k)]
        for item in v:
            if lines:
                lines.append("")
            lines.append("[[" + ".".join(sub) + "]]")
            inner: list[str] = []
            _emit_table(inner, sub, item, None)
            lines.extend(inner)


def dumps(data: Mapping) -> str:
    """Render a mapping as a TOML document (text ending with a newline)."""
    lines: list[str] = []
    _emit_table(lines, [], data, None)
    return "\n".join(lines) + "\n"
