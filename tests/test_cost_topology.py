"""SCALE-Sim topology CSV import."""

from __future__ import annotations

import pytest

from cost_models import load_topology
from dse.common import InputError

CONV = """Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1, 224, 224, 7, 7, 3, 64, 2,
CB2a_1, 56, 56, 1, 1, 64, 64, 1,
DP_1, 14, 14, 3, 3, 32, 1, 1,
"""


def test_conv_import(tmp_path):
    p = tmp_path / "net.csv"
    p.write_text(CONV)
    c1, c2, dp = load_topology(p)
    # SCALE-Sim output size: ceil((224 - 7) / 2) + 1 = 110 (no padding)
    assert (c1.rows, c1.reduction, c1.cols, c1.groups) == (110 * 110, 7 * 7 * 3, 64, 1)
    assert c1.weight_elems == 7 * 7 * 3 * 64 and c1.in_elems == 224 * 224 * 3
    assert (c2.rows, c2.reduction, c2.cols) == (56 * 56, 64, 64)
    assert (dp.rows, dp.reduction, dp.cols, dp.groups) == (12 * 12, 9, 1, 32)


def test_gemm_import(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("Layer, M, N, K,\nqkv, 64, 192, 768,\nsparse, 8, 8, 8, 1:1,\n")
    g, s = load_topology(p, gemm=True)
    assert (g.rows, g.reduction, g.cols) == (64, 768, 192)
    assert g.macs == 64 * 768 * 192 and g.weights_shared
    assert s.macs == 512


@pytest.mark.parametrize("text, gemm, match", [
    ("h,\nc1, 8, 8, 3, 3, x, 4, 1,\n", False, r"line 2: Channels: expected a positive integer, got 'x'"),
    ("h,\nc1, 8, 8, 9, 3, 3, 4, 1,\n", False, r"line 2: Filter Height: filter larger than input"),
    ("h,\nc1, 8, 8, 3, 3, 3, 4, 0,\n", False, r"line 2: Strides: must be >= 1"),
    ("h,\nc1, 8, 8, 3,\n", False, r"line 2: expected 8 columns"),
    ("h,\n\nc1, 8, 8, 3, 3, 3, 4, 1,\nc1, 8, 8, 3, 3, 3, 4, 1,\n", False, "line 4: Layer name: duplicate"),
    ("h,\nq, 4, 4, 2.5,\n", True, r"line 2: K: expected a positive integer, got '2.5'"),
    ("h,\nq, 4, 4, 4, 2:4,\n", True, r"line 2: column 5: .*sparsity is not modelled"),
    ("header only\n", False, "no layers"),
])
def test_bad_csv(tmp_path, text, gemm, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        load_topology(p, gemm=gemm)
    assert str(e.value).startswith(str(p))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_topology(tmp_path / "none.csv")
