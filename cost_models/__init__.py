"""Numba-jitted latency, traffic, energy and area models of a fluid-batching NPU."""

from cost_models.area import area_breakdown
from cost_models.design import BATCHING, PE_STYLES, NpuDesign, load_npu
from cost_models.latency import LatencyTable, latency_table
from cost_models.layers import Layer, conv, fc, layer_array, matmul
from cost_models.topology import load_topology
from dse.common import InputError, RunError

__all__ = [
    "BATCHING", "PE_STYLES", "InputError", "Layer", "LatencyTable", "NpuDesign", "RunError",
    "area_breakdown", "conv", "fc", "latency_table", "layer_array", "load_npu", "load_topology", "matmul",
]
