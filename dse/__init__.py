"""dse: design-space exploration of fluid-batching NPUs serving early-exit DNNs."""

__version__ = "0.1.0"

_LAZY = ("evaluate", "satisfaction_sweep", "Evaluation")


def __getattr__(name):  # lazy: `import dse` stays light for the CLI
    if name in _LAZY:
        from dse import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'dse' has no attribute {name!r}")
