"""Numba-jitted latency, traffic, energy and area models of a fluid-batching NPU."""

from cost_models.errors import InputError, RunError

__all__ = ["InputError", "RunError"]
