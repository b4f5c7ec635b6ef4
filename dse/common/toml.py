"""Reading TOML files and tables with one-line errors naming the file and the table."""

from __future__ import annotations

from pathlib import Path

from dse.common.errors import InputError
from dse.common.files import read_input_bytes


def parse_toml(text: str, *, source: str) -> dict:
    """Parse TOML ``text``; a syntax error is an :class:`InputError` naming ``source``."""
    import tomllib  # ~7 ms: loads with the first file, not for help or a flag's error

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", source=source) from None


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a file; a missing file, anything but a regular file (see
    :func:`dse.common.files.check_input_file`) or binary content is an
    :class:`InputError`."""
    source = str(path)
    raw = read_input_bytes(path, what="TOML file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file (byte {exc.start}), expected TOML",
                         source=source) from None


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file (errors as in :func:`read_text` and :func:`parse_toml`)."""
    return parse_toml(read_text(path), source=str(path))


def table(doc: dict, name: str, *, source: str) -> dict:
    """The top-level table ``[name]`` of a parsed document; when it is missing the error
    points at a near miss (``missing table [scenario] (found [scenari]: a typo?)``)."""
    if name not in doc:
        import difflib

        close = difflib.get_close_matches(name, list(doc), n=1, cutoff=0.6)
        hint = f" (found [{close[0]}]: a typo?)" if close else ""
        raise InputError(f"missing table [{name}]{hint}", source=source, field=name)
    value = doc[name]
    if not isinstance(value, dict):
        raise InputError(f"expected a table, got {value!r}", source=source, field=name)
    return value
