"""Shape-tracking builder used by the zoo: appends GEMM layers, marks heads and exits.

Only layers with MACs are recorded (convolutions, fully connected layers, matmuls);
pooling, activations, normalisation and residual additions are shape changes only.
"""

from __future__ import annotations

from contextlib import contextmanager

from cost_models import Layer


def make_layer(name, kind, rows, reduction, cols, groups, in_elems, weight_elems,
               weights_shared=True) -> Layer:
    """A :class:`cost_models.Layer` built from the contract fields (all per sample)."""
    return Layer(name=name, kind=kind, rows=int(rows), reduction=int(reduction),
                 cols=int(cols), groups=int(groups), in_elems=int(in_elems),
                 weight_elems=int(weight_elems), weights_shared=bool(weights_shared))


def conv_out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


class NetBuilder:
    """Tracks the activation shape (h, w, c) of one sample while layers are appended."""

    def __init__(self, h: int, w: int, c: int):
        self.h, self.w, self.c = h, w, c
        self.layers: list[Layer] = []
        self.head: list[bool] = []
        self.exits: list[int] = []
        self._in_head = False

    # -- shape helpers -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return self.h, self.w, self.c

    def set_shape(self, h: int, w: int, c: int) -> None:
        self.h, self.w, self.c = h, w, c

    def _append(self, layer: Layer) -> None:
        self.layers.append(layer)
        self.head.append(self._in_head)

    # -- layers --------------------------------------------------------------------
    def conv(self, name: str, cout: int, k: int, stride: int = 1, pad: int | None = None,
             groups: int = 1, cin: int | None = None) -> None:
        """k x k convolution, ``groups`` groups (depthwise: groups = cin = cout)."""
        cin = self.c if cin is None else cin
        pad = k // 2 if pad is None else pad
        ho, wo = conv_out(self.h, k, stride, pad), conv_out(self.w, k, stride, pad)
        if cin % groups or cout % groups:
            raise ValueError(f"{name}: channels {cin}->{cout} not divisible by {groups} groups")
        self._append(make_layer(name, "conv", ho * wo, k * k * cin // groups, cout // groups,
                                groups, self.h * self.w * cin, k * k * cin // groups * cout))
        self.set_shape(ho, wo, cout)

    def pool(self, k: int, stride: int, pad: int = 0) -> None:
        """Max/average pooling window: shape only."""
        self.h, self.w = conv_out(self.h, k, stride, pad), conv_out(self.w, k, stride, pad)

    def global_pool(self) -> None:
        self.h = self.w = 1

    def fc(self, name: str, cout: int, rows: int = 1) -> None:
        """Fully connected layer over the flattened activation (or per row of ``rows``)."""
        cin = self.h * self.w * self.c // rows
        self._append(make_layer(name, "fc", rows, cin, cout, 1, rows * cin, cin * cout))
        self.set_shape(1, rows, cout) if rows > 1 else self.set_shape(1, 1, cout)

    def gemm(self, name: str, rows: int, reduction: int, cols: int, *,
             shared: bool = True, kind: str = "fc", groups: int = 1) -> None:
        """A raw GEMM (transformers): ``rows`` x ``reduction`` times ``reduction`` x ``cols``.

        ``shared=False`` marks an activation x activation matmul (attention), whose
        second operand (``reduction`` x ``cols`` per group) is per sample.
        """
        self._append(make_layer(name, kind, rows, reduction, cols, groups,
                                rows * reduction * groups, reduction * cols * groups, shared))

    # -- exits ---------------------------------------------------------------------
    @contextmanager
    def head_branch(self):
        """Layers added inside are an exit head; the backbone shape is restored after."""
        saved, self._in_head = self.shape, True
        try:
            yield self
        finally:
            self._in_head = False
            self.set_shape(*saved)
        self.exits.append(len(self.layers) - 1)

    def final_exit(self) -> None:
        self.exits.append(len(self.layers) - 1)
