"""Numba-jitted latency, traffic, energy and area models of a fluid-batching NPU."""

from cost_models.area import area_breakdown
from cost_models.design import BATCHING, PE_STYLES, NpuDesign, load_npu
from cost_models.latency import LatencyTable, kernels_ready, latency_table
from cost_models.layers import Layer, conv, fc, layer_array, matmul
from cost_models.sweep import LAYER_CLASSES, SWEEP_BATCHING, layer_class, utilisation_sweep
from cost_models.topology import load_topology
from dse.common import InputError, RunError

__all__ = [
    "BATCHING", "LAYER_CLASSES", "PE_STYLES", "SWEEP_BATCHING", "InputError", "Layer",
    "LatencyTable", "NpuDesign", "RunError", "area_breakdown", "conv", "fc", "kernels_ready",
    "latency_table",
    "layer_array", "layer_class", "load_npu", "load_topology", "matmul", "utilisation_sweep",
]
