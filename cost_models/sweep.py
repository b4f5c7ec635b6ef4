"""MAC utilisation of a layer list by batch size: which batching mode and PE stacking pay.

``utilisation = b * MACs / (pe_count * pe_width * cycles)`` over the layers (or over one
layer class), with ``cycles`` the FBE table's total cycles (DRAM stalls and the per-layer
overhead included), as in :class:`cost_models.LatencyTable`.  ``compute_utilisation``
uses the array's busy cycles instead: what the mode does on the array, whatever the
memory system adds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cost_models.design import NpuDesign
from cost_models.latency import latency_table
from cost_models.layers import Layer, layer_array
from dse.common import InputError

SWEEP_BATCHING = ("r", "p", "fluid")
LAYER_CLASSES = ("grouped", "fc", "small_spatial", "small_reduction", "dense")


def layer_class(layer: Layer, design: NpuDesign) -> str:
    """The array dimension ``layer`` under-fills on ``design`` at batch 1 (first match).

    grouped: G > 1 (depthwise/grouped convs, attention heads); fc: one row per sample
    (R = 1); small_spatial: fewer rows than the weight-tile load time (R < pe_width);
    small_reduction: a short dot product (P < pe_width, e.g. first conv layers);
    dense: everything else.
    """
    if layer.groups > 1:
        return "grouped"
    if layer.rows == 1:
        return "fc"
    if layer.rows < design.pe_width:
        return "small_spatial"
    if layer.reduction < design.pe_width:
        return "small_reduction"
    return "dense"


def _util(macs: np.ndarray, cycles: np.ndarray, peak: int) -> list[float]:
    """Utilisation for b = 1..B of the layers in ``macs`` (cycles ``[layer, b]``)."""
    b = np.arange(1, cycles.shape[1])
    total = cycles[:, 1:].sum(axis=0).astype(np.float64)
    return [float(u) for u in b * float(macs.sum()) / (peak * total)]


def utilisation_sweep(design: NpuDesign, layers) -> dict:
    """MAC utilisation for b = 1..max_batch under r / p / fluid batching, with and
    without PE stacking, for the whole layer list and per :func:`layer_class`.

    Returns ``{"batches": [1..B], "stack_factors": [...], "utilisation": U,
    "compute_utilisation": U, "classes": {class: {"layers": n, "mac_share": f,
    "utilisation": U, "compute_utilisation": U}}}`` with ``U = {"no_stacking": {mode:
    [u(b) for b in batches]}, "stacking": {...}}``; "no_stacking" forces ``stack_factors =
    [1]``, "stacking" uses the design's.  Classes without layers are left out.
    """
    if not isinstance(design, NpuDesign):
        raise InputError(f"expected an NpuDesign, got {type(design).__name__}",
                         field="design")
    layers = list(layers)
    arr = layer_array(layers)
    macs = arr[:, 0] * arr[:, 1] * arr[:, 2] * arr[:, 3]
    peak = design.pe_count * design.pe_width
    cls = np.array([layer_class(ly, design) for ly in layers])
    groups = {"all": np.ones(len(layers), dtype=bool)}
    groups.update({c: cls == c for c in LAYER_CLASSES if (cls == c).any()})
    variants = {"no_stacking": (1,), "stacking": design.stack_factors}
    util = {g: {"utilisation": {v: {} for v in variants},
                "compute_utilisation": {v: {} for v in variants}} for g in groups}
    for v, ks in variants.items():
        for mode in SWEEP_BATCHING:
            t = latency_table(replace(design, batching=mode, stack_factors=ks), arr)
            for g, sel in groups.items():
                util[g]["utilisation"][v][mode] = _util(macs[sel], t.cycles[sel], peak)
                util[g]["compute_utilisation"][v][mode] = _util(
                    macs[sel], t.compute_cycles[sel], peak)
    return {
        "batches": list(range(1, design.max_batch + 1)),
        "stack_factors": list(design.stack_factors),
        **util.pop("all"),
        "classes": {g: {"layers": int(sel.sum()),
                        "mac_share": float(macs[sel].sum() / macs.sum()), **util[g]}
                    for g, sel in groups.items() if g != "all"},
    }
