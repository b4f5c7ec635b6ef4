"""How the kernel calls a policy: one compiled kernel per policy, cached across processes.

``drive`` (``dse.sim._kernel``) takes a :class:`PolicyKey` argument.  Its Numba type,
:class:`PolicyKeyType`, carries the policy's name and source digest, so Numba compiles
one specialisation of the kernel's policy-dependent functions per policy, calling that
policy's ``decide``, ``continues_at`` and ``on_batch_done`` (the three stubs below
resolve, at compile time, to the functions of the registered policy; LLVM inlines them),
and a run compiles only the policy it uses.  The type pickles by value (name and digest), so ``cache=True`` finds the compiled
kernel again in the next process; a changed digest (an edited policy or simulator
source) compiles afresh instead of loading stale code.  No policy id is dispatched at run
time: a kernel cannot be called for a policy that is not registered.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba import types
from numba.core.imputils import lower_constant
from numba.extending import (
    NativeValue,
    models,
    overload,
    register_model,
    typeof_impl,
    unbox,
)

from dse.sim import _state
from dse.sim._state import FV_NOW

#: Options of the compiled glue: callable from compiled code only (no wrappers to build),
#: inlined by LLVM into the kernel (``forceinline``: as calls, they copied the whole
#: state at every layer boundary).
_IMPL = {"_nrt": False, "no_cpython_wrapper": True, "no_cfunc_wrapper": True,
         "forceinline": True}

#: (name, digest) -> the policy's (decide, continues_at, on_batch_done, continues always),
#: for compiling.
_HOOKS: dict[tuple[str, str], tuple] = {}


class PolicyKey:
    """A policy as the kernel sees it (``Policy.key``): its name, a digest of its
    sources, and (in this process) its three kernel functions; ``always``: its
    ``continues_at`` is ``dse.sim.always_continues`` (part of the digest)."""

    __slots__ = ("digest", "name")

    def __init__(self, name: str, digest: str, decide, continues_at, on_batch_done,
                 always: bool):
        self.name = name
        self.digest = digest
        _HOOKS[(name, digest)] = (decide, continues_at, on_batch_done, always)

    def __repr__(self) -> str:
        return f"PolicyKey({self.name!r}, {self.digest!r})"


class PolicyKeyType(types.Dummy):
    """Numba type of a :class:`PolicyKey`: equal for equal (name, digest)."""

    def __init__(self, policy: str, digest: str):
        self.policy = policy
        self.digest = digest
        super().__init__(name=f"Policy({policy}:{digest})")


@typeof_impl.register(PolicyKey)
def _typeof_key(value, context):
    return PolicyKeyType(value.name, value.digest)


register_model(PolicyKeyType)(models.OpaqueModel)


@unbox(PolicyKeyType)
def _unbox_key(typ, obj, c):
    return NativeValue(c.context.get_dummy_value())


class Layout:
    """The state layout as the policy-independent kernel functions see it: a digest of
    ``dse/sim/_state.py``, whose row constants (``CI_N``, ...) they compile in.  Their
    first argument; its type (:class:`LayoutType`) puts the digest into their cache key,
    so an edited layout compiles them afresh (Numba's own check of a cached function
    looks at the timestamp of its own file only, here ``_kernel.py``)."""

    __slots__ = ("digest",)

    def __init__(self, digest: str):
        self.digest = digest


class LayoutType(types.Dummy):
    """Numba type of a :class:`Layout`: equal for equal digests."""

    def __init__(self, digest: str):
        self.digest = digest
        super().__init__(name=f"Layout({digest})")


@typeof_impl.register(Layout)
def _typeof_layout(value, context):
    return LayoutType(value.digest)


register_model(LayoutType)(models.OpaqueModel)


@lower_constant(LayoutType)
def _layout_constant(context, builder, ty, pyval):
    return context.get_dummy_value()


LAYOUT = Layout(hashlib.sha256(Path(_state.__file__).read_bytes()).hexdigest()[:16])


def _hooks(key):
    """``(decide, continues_at, on_batch_done, always)`` of a key type (``None`` for
    others)."""
    if not isinstance(key, PolicyKeyType):
        return None
    return _HOOKS[(key.policy, key.digest)]


def decide(key, st, tb, p, x):
    """The action ``(act, model, k, wake_ms)`` of the policy of ``key`` for executor
    ``x`` now (resolved at compile time)."""
    raise NotImplementedError("called from compiled code only")


def continues_at(key, st, tb, p, x, c, m, layer, n):
    """The policy's ``continues_at`` (resolved at compile time)."""
    raise NotImplementedError("called from compiled code only")


def on_batch_done(key, st, tb, p, c, now):
    """The policy's ``on_batch_done`` (resolved at compile time)."""
    raise NotImplementedError("called from compiled code only")


def continues_always(key):
    """True when the policy's ``continues_at`` is :func:`dse.sim.always_continues`,
    which reads nothing (a compile-time constant): the run-ahead then need not keep
    ``st.fv[FV_NOW]`` at each boundary's time nor stop at arrivals."""
    raise NotImplementedError("called from compiled code only")


@overload(decide, jit_options=_IMPL)
def _decide(key, st, tb, p, x):
    hooks = _hooks(key)
    if hooks is None:
        return None
    fn = hooks[0]

    def impl(key, st, tb, p, x):
        return fn(st, tb, p, x, st.fv[FV_NOW])
    return impl


@overload(continues_at, jit_options=_IMPL)
def _continues_at(key, st, tb, p, x, c, m, layer, n):
    hooks = _hooks(key)
    if hooks is None:
        return None
    fn = hooks[1]

    def impl(key, st, tb, p, x, c, m, layer, n):
        return fn(st, tb, p, x, c, m, layer, n)
    return impl


@overload(continues_always, jit_options=_IMPL)
def _continues_always(key):
    hooks = _hooks(key)
    if hooks is None:
        return None
    always = hooks[3]

    def impl(key):
        return always
    return impl


@overload(on_batch_done, jit_options=_IMPL)
def _on_batch_done(key, st, tb, p, c, now):
    hooks = _hooks(key)
    if hooks is None:
        return None
    fn = hooks[2]

    def impl(key, st, tb, p, c, now):
        fn(st, tb, p, c, now)
    return impl
