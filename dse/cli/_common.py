"""Helpers every command group shares: argument types, output and flag names."""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager

from dse.common import InputError


def int_at_least(low: int, what: str = "an integer"):
    """argparse type: an integer >= ``low`` (errors read ``argument --x: ...``)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {v}")
        return v
    return parse


def positive_float(what: str):
    """argparse type: a finite number > 0 (``what``: e.g. "a number of seconds")."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got '{text}'") from None
        if not (v > 0 and math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return v
    return parse


@contextmanager
def flags(**names):
    """Name library parameters as the command's flags in errors, e.g.
    ``with flags(out="--out"):`` turns field ``out`` into ``--out``."""
    try:
        yield
    except InputError as exc:
        if exc.field in names:
            raise exc.renamed(names[exc.field]) from None
        raise


def json_safe(obj):
    """A JSON-ready copy: non-finite floats become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def fmt(value, spec: str = ".6g") -> str:
    """A table cell: yes/no for booleans, "-" for non-finite numbers."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, spec)


def warn(messages) -> None:
    for m in messages:
        print(f"dse: warning: {m}", file=sys.stderr)
