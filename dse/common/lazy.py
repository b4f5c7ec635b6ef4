"""Package exports that load on first use (PEP 562), so that importing a package for one
light name (a catalogue, a path helper) does not import NumPy, Numba, pandas or Optuna."""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` for ``package``: name -> ``"module"`` (same name there) or
    ``"module:attr"``; each is imported when first read, then kept in the package."""

    def __getattr__(name: str):
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = where.partition(":")
        value = getattr(importlib.import_module(module), attr or name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
