"""Latency agreement with ZigZag 3.9 (``zigzag-dse``, test extra), see tests/zigzag_reference.py.

Bounds (docs/cost_model.md, "Agreement with ZigZag"): compute cycles within -4% / +2% of
ZigZag's on every layer (the differences are fill constants), except where ZigZag's mapper
preloads a whole layer's weights into the PE weight registers because they fit the
registers' 2 x pe_width words (we load one tile ahead instead): there we are up to 20%
faster.  Totals with DRAM within -20% / +2%: our model overlaps compute and DRAM transfers
perfectly, ZigZag exposes the first fill of the weight SRAM and the final write-back, so
it is slower when compute and DRAM time are about equal.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("zigzag", reason="zigzag-dse is not installed (pip install -e '.[test]')")

from zigzag_reference import ARRAYS, DESIGNS, compare, zoo_layers  # noqa: E402

from cost_models import load_npu  # noqa: E402

COMPUTE = (0.96, 1.02)
PRELOADED = (0.80, 1.02)
TOTAL = (0.80, 1.02)
# A depthwise, an FC, a small-spatial and a narrow-C layer: one of each class, fast.
QUICK = (("mobilenetv2", "features.14.dw"), ("mobilenetv2", "classifier"),
         ("msdnet", "exit1/conv2"), ("msdnet", "layer0.s0.same.conv"))


def _preloaded(d, r) -> bool:
    """ZigZag keeps all of a PE's weights (several tiles) in its weight registers."""
    n_pe = d.pe_count
    g_tiles = -(-r["G"] // max(1, n_pe // r["C"]))
    p_tiles = -(-r["P"] // d.pe_width)
    tiles = g_tiles * -(-r["C"] // n_pe) * p_tiles
    return tiles > 1 and tiles * min(r["P"], d.pe_width) <= 2 * d.pe_width


def _check(d, rows):
    for r in rows:
        lo, hi = PRELOADED if _preloaded(d, r) else COMPUTE
        assert lo <= r["compute_ratio"] <= hi, r
        if r["total_ratio"] is not None:
            assert TOTAL[0] <= r["total_ratio"] <= TOTAL[1], r
    usual = [r["compute_ratio"] for r in rows if not _preloaded(d, r)]
    assert 0.98 <= math.exp(sum(map(math.log, usual)) / len(usual)) <= 1.01


def test_zigzag_agreement_quick():
    d = load_npu(DESIGNS / "npu_wide.toml")
    rows = compare(d, zoo_layers(QUICK))
    assert all(r["total_ratio"] is not None for r in rows)
    _check(d, rows)


@pytest.mark.heavy
@pytest.mark.parametrize("array", ARRAYS)
def test_zigzag_agreement_all_layers(array):
    """The docs table: 22 zoo layers (depthwise, FC, small-spatial, attention, dense)."""
    d = load_npu(DESIGNS / f"{array}.toml")
    rows = compare(d, zoo_layers())
    assert len(rows) >= 20 and sum(r["total_ratio"] is not None for r in rows) >= 15
    _check(d, rows)
