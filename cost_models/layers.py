"""DNN layers as GEMMs: R rows x P reduction x C output channels, per group.

A layer of ``groups`` G is G independent GEMMs of (R x P) . (P x C); ``macs = R*P*C*G``
per sample.  Element counts (``in_elems``, ``weight_elems``) are per sample and in
elements; bytes follow from the design's ``precision_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dse.common import InputError

KINDS = ("conv", "fc", "matmul")

#: Largest accepted R, P, C and G of a layer (2^32): larger than any real layer
#: dimension, small enough that every product in :func:`layer_array` stays exact.
MAX_DIM = 1 << 32
#: Largest accepted element count per sample (in_elems, weight_elems): 2^40, 1 Ti elements.
MAX_ELEMS = 1 << 40

# Columns of the int64 array from :func:`layer_array` (the kernels' input).
COL_R, COL_P, COL_C, COL_G, COL_IN, COL_W, COL_SHARED, COL_OUT = range(8)
N_COLS = 8


@dataclass(frozen=True)
class Layer:
    """One layer as a grouped GEMM.

    rows: R, output positions (or tokens) per sample; reduction: P = kh*kw*cin/groups;
    cols: C, output channels per group; groups: G; in_elems: input activation elements
    per sample; weight_elems: weight (second-operand) elements; weights_shared: False for
    activation x activation matmuls whose second operand is per sample.
    """

    name: str
    kind: str
    rows: int
    reduction: int
    cols: int
    groups: int = 1
    in_elems: int = 0
    weight_elems: int = 0
    weights_shared: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InputError(f"unknown layer kind {self.kind!r}", field=f"{self.name}.kind",
                             allowed=KINDS)
        for f in ("rows", "reduction", "cols", "groups"):
            v = getattr(self, f)
            if (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1
                    or v > MAX_DIM):
                raise InputError(f"must be an integer in 1..{MAX_DIM}, got {v!r}",
                                 field=f"{self.name}.{f}", allowed=f"1..{MAX_DIM}")
        for f in ("in_elems", "weight_elems"):
            v = getattr(self, f)
            if (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0
                    or v > MAX_ELEMS):
                raise InputError(f"must be an integer in 0..{MAX_ELEMS}, got {v!r}",
                                 field=f"{self.name}.{f}", allowed=f"0..{MAX_ELEMS}")
        if self.out_elems > MAX_ELEMS:
            raise InputError(f"R x C x G = {self.out_elems} output elements per sample, "
                             f"more than {MAX_ELEMS}", field=f"{self.name}.rows",
                             allowed=f"<= {MAX_ELEMS}")

    @property
    def macs(self) -> int:
        """Multiply-accumulates per sample."""
        return self.rows * self.reduction * self.cols * self.groups

    @property
    def out_elems(self) -> int:
        """Output activation elements per sample."""
        return self.rows * self.cols * self.groups


def _pos(name: str, field: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise InputError(f"must be a positive integer, got {v!r}", field=f"{name}.{field}")
    return int(v)


def conv(name: str, in_h: int, in_w: int, cin: int, cout: int, kh: int, kw: int | None = None,
         stride: int = 1, padding: int | str = 0, groups: int = 1) -> Layer:
    """2-D convolution on an ``in_h x in_w x cin`` input (``padding`` in pixels or "same").

    Output size ``floor((in + 2*pad - k) / stride) + 1``; "same" pads ``(k - 1) // 2``.
    """
    kw = kh if kw is None else kw
    in_h, in_w, cin, cout, kh, kw, stride, groups = (
        _pos(name, f, v) for f, v in (("in_h", in_h), ("in_w", in_w), ("cin", cin),
                                      ("cout", cout), ("kh", kh), ("kw", kw),
                                      ("stride", stride), ("groups", groups)))
    if padding == "same":
        ph, pw = (kh - 1) // 2, (kw - 1) // 2
    elif isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        ph = pw = padding
    else:
        raise InputError(f"expected a non-negative integer or 'same', got {padding!r}",
                         field=f"{name}.padding")
    if cin % groups or cout % groups:
        raise InputError(f"groups={groups} must divide cin={cin} and cout={cout}",
                         field=f"{name}.groups")
    if kh > in_h + 2 * ph or kw > in_w + 2 * pw:
        raise InputError(f"filter {kh}x{kw} larger than padded input "
                         f"{in_h + 2 * ph}x{in_w + 2 * pw}", field=f"{name}.filter")
    out_h = (in_h + 2 * ph - kh) // stride + 1
    out_w = (in_w + 2 * pw - kw) // stride + 1
    return Layer(name, "conv", rows=out_h * out_w, reduction=kh * kw * (cin // groups),
                 cols=cout // groups, groups=groups, in_elems=in_h * in_w * cin,
                 weight_elems=kh * kw * (cin // groups) * cout)


def fc(name: str, in_features: int, out_features: int, tokens: int = 1) -> Layer:
    """Fully connected layer (``tokens`` rows share the weights, e.g. a transformer FFN)."""
    i, o, t = (_pos(name, f, v) for f, v in (("in_features", in_features),
                                              ("out_features", out_features),
                                              ("tokens", tokens)))
    return Layer(name, "fc", rows=t, reduction=i, cols=o, in_elems=t * i, weight_elems=i * o)


def matmul(name: str, m: int, k: int, n: int, heads: int = 1,
           weights_shared: bool = False) -> Layer:
    """``heads`` independent (m x k) . (k x n) products (attention scores or context).

    By default the second operand is an activation of the same sample
    (``weights_shared=False``): it is not amortised across a batch.
    """
    m, k, n, heads = (_pos(name, f, v) for f, v in (("m", m), ("k", k), ("n", n),
                                                     ("heads", heads)))
    return Layer(name, "matmul", rows=m, reduction=k, cols=n, groups=heads,
                 in_elems=m * k * heads, weight_elems=k * n * heads,
                 weights_shared=bool(weights_shared))


def layer_array(layers) -> np.ndarray:
    """Pack layers into an int64 ``[n_layers, 8]`` array (R, P, C, G, in, w, shared, out)."""
    layers = list(layers)
    arr = np.zeros((len(layers), N_COLS), dtype=np.int64)
    for i, ly in enumerate(layers):
        if not isinstance(ly, Layer):
            raise InputError(f"expected a Layer, got {type(ly).__name__}", field=f"layers[{i}]")
        arr[i] = (ly.rows, ly.reduction, ly.cols, ly.groups, ly.in_elems, ly.weight_elems,
                  int(ly.weights_shared), ly.out_elems)
    return arr
