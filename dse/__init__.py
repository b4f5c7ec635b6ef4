"""dse: design-space exploration of fluid-batching NPUs serving early-exit DNNs."""

__version__ = "0.1.0"
