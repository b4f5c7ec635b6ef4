"""Import SCALE-Sim topology CSV files as :class:`~cost_models.layers.Layer` lists.

Conv format (one header line, then one layer per line, trailing comma allowed)::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,

No padding, and SCALE-Sim's output size ``ceil((in - filter) / stride) + 1`` (SCALE-Sim 3.0
``topology_utils``: a partial last window counts; PyTorch would floor).  A layer
whose name contains ``DP`` is depthwise, as in SCALE-Sim: every one of the ``Channels``
channels is convolved with its own ``Num Filter`` filters (groups = Channels).

GEMM format (``--gemm``): ``Layer name, M, N, K,`` = an (M x K) . (K x N) product, i.e.
rows M, reduction K, output columns N.  An optional last column ``N:M`` sparsity must be
``1:1`` (sparsity is not modelled).
"""

from __future__ import annotations

import csv
from pathlib import Path

from cost_models.layers import MAX_DIM, MAX_ELEMS, Layer
from dse.common import InputError, check_range
from dse.common.files import read_input_bytes

CONV_FIELDS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
               "Channels", "Num Filter", "Strides")
GEMM_FIELDS = ("Layer name", "M", "N", "K")


def _rows(path: Path):
    raw = read_input_bytes(path, what="CSV file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", source=str(path)) from None
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if lineno == 1:
            continue  # header, as in SCALE-Sim
        while row and not row[-1].strip():
            row = row[:-1]
        if not row:
            continue
        yield lineno, [c.strip() for c in row]


def _ints(cells, names, src, lineno):
    out = []
    for cell, name in zip(cells, names, strict=True):
        where = f"line {lineno}: {name}"
        try:
            v = int(cell)
        except ValueError:
            raise InputError(f"expected a positive integer, got {cell!r}", source=src,
                             field=where) from None
        out.append(check_range(v, source=src, field=where, low=1, high=MAX_DIM,
                               allowed=f"1..{MAX_DIM}"))
    return out


def _layer(src: str, lineno: int, name: str, **kw) -> Layer:
    """A Layer whose own range errors name the file and line."""
    for key in ("in_elems", "weight_elems"):
        if kw[key] > MAX_ELEMS:
            raise InputError(f"{kw[key]} elements per sample ({key}), more than "
                             f"{MAX_ELEMS}", source=src, field=f"line {lineno}",
                             allowed=f"<= {MAX_ELEMS}")
    try:
        return Layer(name, **kw)
    except InputError as exc:
        raise InputError(exc.message, source=src, field=f"line {lineno}: {exc.field}",
                         allowed=exc.allowed) from None


def _check_sparsity(extra, src, lineno, n_fields):
    if not extra:
        return
    if len(extra) > 1 or extra[0].replace(" ", "") != "1:1":
        raise InputError(f"unexpected extra columns {extra!r} (only a '1:1' sparsity ratio "
                         f"is accepted; sparsity is not modelled)", source=src,
                         field=f"line {lineno}: column {n_fields + 1}")


def load_topology(path: str | Path, gemm: bool = False) -> list[Layer]:
    """Read a SCALE-Sim topology CSV (conv format, or GEMM M,N,K with ``gemm=True``)."""
    path = Path(path)
    src = str(path)
    fields = GEMM_FIELDS if gemm else CONV_FIELDS
    layers: list[Layer] = []
    seen = set()
    for lineno, row in _rows(path):
        if len(row) < len(fields):
            hint = (" (a GEMM topology? read it in GEMM format)" if not gemm and len(row) == 4
                    else "")
            raise InputError(f"expected {len(fields)} columns ({', '.join(fields)}), got "
                             f"{len(row)}{hint}", source=src, field=f"line {lineno}")
        name = row[0] or f"layer{len(layers)}"
        if name in seen:
            raise InputError(f"duplicate layer name {name!r}", source=src,
                             field=f"line {lineno}: Layer name")
        seen.add(name)
        _check_sparsity(row[len(fields):], src, lineno, len(fields))
        vals = _ints(row[1:len(fields)], fields[1:], src, lineno)
        if gemm:
            m, n, k = vals
            layers.append(_layer(src, lineno, name, kind="matmul", rows=m, reduction=k,
                                 cols=n, in_elems=m * k, weight_elems=k * n,
                                 weights_shared=True))
            continue
        h, w, fh, fw, ch, nf, stride = vals
        for fname, f, dim, dname in (("Filter Height", fh, h, "IFMAP Height"),
                                     ("Filter Width", fw, w, "IFMAP Width")):
            if f > dim:
                raise InputError(f"filter larger than input ({fname} {f} > {dname} {dim})",
                                 source=src, field=f"line {lineno}: {fname}")
        out_h, out_w = -(-(h - fh) // stride) + 1, -(-(w - fw) // stride) + 1
        if "DP" in name:   # depthwise: groups = channels, Num Filter filters per channel
            layers.append(_layer(src, lineno, name, kind="conv", rows=out_h * out_w,
                                 reduction=fh * fw, cols=nf, groups=ch, in_elems=h * w * ch,
                                 weight_elems=fh * fw * nf * ch))
        else:
            layers.append(_layer(src, lineno, name, kind="conv", rows=out_h * out_w,
                                 reduction=fh * fw * ch, cols=nf, in_elems=h * w * ch,
                                 weight_elems=fh * fw * ch * nf))
    if not layers:
        raise InputError("no layers (expected a header line, then one layer per line)",
                         source=src)
    return layers
