"""Numba functions of the policies, declared without importing Numba.

Importing Numba costs ~0.4 s, and the policy catalogue (names, parameters, defaults,
ranges: what ``dse policies`` and spec validation read) lives in the modules that also
hold the policies' kernel functions.  Those modules (the policies, their shared building
blocks in ``policies/_shared.py``, the state queries in ``_state.py``) decorate their
kernel functions with :func:`njit` from here, which at import only records the function
and its options.  :func:`materialize`, called when a kernel is first needed (importing
``dse.sim._kernel``, or :attr:`dse.sim.Policy.key`), imports Numba, turns every record
into the Numba dispatcher ``numba.njit(**options)(function)`` would have made, and puts
that dispatcher in place of the record in the namespace of every recorded function and of
every module given to it, so compiled code calls, inlines and caches them as if they had
been decorated directly.  After that, :func:`njit` decorates directly.

A plug-in policy may use ``numba.njit`` and import the building blocks: the namespaces of
its hooks are among those :attr:`dse.sim.Policy.key` passes to :func:`materialize`.
"""

from __future__ import annotations

import sys


class Deferred:
    """A function :func:`njit` recorded for Numba; ``py_func`` and calls from Python as on
    a dispatcher."""

    __slots__ = ("dispatcher", "options", "py_func")

    def __init__(self, py_func, options: dict):
        self.py_func = py_func
        self.options = options
        self.dispatcher = None

    def __call__(self, *args):
        """Called from Python (``Stepper`` reads queue lengths with ``qlen``)."""
        return resolve(self)(*args)

    def __repr__(self) -> str:
        return f"Deferred({self.py_func.__module__}.{self.py_func.__qualname__})"


_PENDING: list[Deferred] = []


class Int64(int):
    """An int that Numba types as int64, never as a literal, for the starting value of a
    loop variable (``j = ZERO``, not ``j = 0``).  Numba types ``j = 0`` as the literal
    ``Literal[int](0)``, refines it to int64 when the loop adds to it, and so runs the
    type inference of the whole function a third time (a third of its typing); it makes
    literals of plain ints only.  Needs no NumPy import, unlike ``numpy.int64``."""

    __slots__ = ()


ZERO = Int64(0)
ONE = Int64(1)
MINUS_ONE = Int64(-1)

#: Options of a kernel helper called from several sites (``njit(**COMPILED_ONCE)``):
#: typed and compiled once, then inlined by LLVM wherever it is called (``forceinline``).
#: Numba's IR inlining (``inline="always"``, right for one-line helpers) types the helper
#: again at every call site, nested helpers included: ``fluid``'s ``boundary``, called by
#: both ``decide`` and ``continues_at``, and ``job``, called by two of its callers,
#: doubled ``fluid``'s compile that way.  Callable from compiled code only.
COMPILED_ONCE = {"cache": True, "_nrt": False, "forceinline": True,
                 "no_cpython_wrapper": True, "no_cfunc_wrapper": True}


def njit(**options):
    """``numba.njit(**options)`` once :func:`materialize` has run; before, a record."""
    def decorate(fn):
        if "numba" in sys.modules and not _PENDING:
            import numba

            return numba.njit(**options)(fn)
        d = Deferred(fn, options)
        _PENDING.append(d)
        return d
    return decorate


def materialize(namespaces=()) -> None:
    """Make every recorded function a Numba dispatcher and replace the records in the
    recorded functions' module namespaces and in ``namespaces`` (dicts of globals)."""
    import numba

    made = [d for d in _PENDING if d.dispatcher is None]
    for d in made:
        d.dispatcher = numba.njit(**d.options)(d.py_func)
    spaces = {id(ns): ns for ns in namespaces}
    spaces.update({id(d.py_func.__globals__): d.py_func.__globals__ for d in _PENDING})
    for ns in spaces.values():
        for name, value in list(ns.items()):
            if isinstance(value, Deferred):
                ns[name] = resolve(value)
    _PENDING.clear()


def resolve(fn):
    """The Numba dispatcher of ``fn`` (a :class:`Deferred` or already a dispatcher)."""
    if isinstance(fn, Deferred):
        if fn.dispatcher is None:
            materialize()
        return fn.dispatcher
    return fn
