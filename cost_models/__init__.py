"""Numba-jitted latency, traffic, energy and area models of a fluid-batching NPU."""

from cost_models.area import area_breakdown
from cost_models.design import BATCHING, PE_STYLES, NpuDesign, load_npu
from dse.common import InputError, RunError
from dse.common.lazy import lazy_exports

# The design and its area import no numeric stack (reading and checking a design file is
# part of every input check); the models over layers load NumPy on first use.
__getattr__ = lazy_exports(__name__, {
    **dict.fromkeys(("LatencyTable", "kernels_ready", "latency_table"), "cost_models.latency"),
    **dict.fromkeys(("Layer", "conv", "fc", "layer_array", "matmul"), "cost_models.layers"),
    **dict.fromkeys(("LAYER_CLASSES", "SWEEP_BATCHING", "layer_class", "utilisation_sweep"),
                    "cost_models.sweep"),
    "load_topology": "cost_models.topology"})

__all__ = [
    "BATCHING", "LAYER_CLASSES", "PE_STYLES", "SWEEP_BATCHING", "InputError", "Layer",
    "LatencyTable", "NpuDesign", "RunError", "area_breakdown", "conv", "fc", "kernels_ready",
    "latency_table",
    "layer_array", "layer_class", "load_npu", "load_topology", "matmul", "utilisation_sweep",
]
