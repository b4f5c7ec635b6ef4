"""Checks of a parsed search space against what the design and the policies accept: every
range inside its field's or parameter's range, and at least one valid NPU design."""

from __future__ import annotations

import itertools
import math
import random

from dse.common import InputError


def check_npu_bounds(name: str, dim, source: str) -> None:
    """A range or choice of an ``[npu]`` field within the field's accepted range (a range
    of 1..2^63-1 would make almost every trial an invalid design)."""
    from cost_models import NpuDesign

    bounds = NpuDesign.field_range(name)
    if bounds is None or dim.kind == "fixed":
        return  # a fixed value is checked as a design (check_feasible)
    low, high = bounds
    ends = ((f"space.npu.{name}.low", dim.low), (f"space.npu.{name}.high", dim.high)) \
        if dim.kind in ("int", "float") else \
        tuple((f"space.npu.{name}[{i}]", v) for i, v in enumerate(dim.values))
    for path, v in ends:
        if not isinstance(v, int | float) or isinstance(v, bool):
            continue
        if v > high or v < low or (low == 0 and v <= 0):
            raise InputError(f"{v} is outside the range of npu.{name}", source=source,
                             field=path, allowed=f"{'(' if low == 0 else '['}{low:g}, "
                             f"{high:g}]")


def check_param_bounds(dim, decl, source: str, path: str) -> None:
    if decl.kind == "bool":
        return
    vals = [dim.low, dim.high] if dim.kind in ("int", "float") else list(dim.values)
    for v in vals:
        if v < decl.low or v > decl.high:
            raise InputError(f"value {v} outside the parameter's range", source=source,
                             field=path, allowed=f"{decl.low} .. {decl.high}")


def check_feasible(space, source: str, seed: int) -> None:
    """Raise when no combination of the NPU dimensions gives a valid ``NpuDesign``.

    Enumerates the finite product when it has at most 4096 points, otherwise checks
    512 random points (fixed seed).  Single invalid points are allowed: such trials are
    recorded as FAIL at run time (see ``docs/studies.md``).
    """
    from cost_models import NpuDesign

    names = list(space.npu)
    pools = []
    for name in names:
        dim = space.npu[name]
        vals = dim.candidates(limit=64)
        if vals is None:  # wide or continuous range: ends and a midpoint
            mid = (dim.low + dim.high) / 2
            vals = [dim.low, int(mid) if dim.kind == "int" else mid, dim.high]
        pools.append(vals)
    total = math.prod(len(p) for p in pools)
    if total <= 4096:
        points = itertools.product(*pools)
    else:
        rng = random.Random(seed)
        points = ([rng.choice(p) for p in pools] for _ in range(512))
    first_error = None
    for point in points:
        table = {n: (list(v) if isinstance(v, tuple) else v)
                 for n, v in zip(names, point, strict=True)}
        try:
            NpuDesign.from_dict(table, source=source, prefix="space.npu.")
            return
        except InputError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise InputError(f"contradictory space: no valid NPU design ({first_error.message})",
                         source=source, field=first_error.field, allowed=first_error.allowed)
