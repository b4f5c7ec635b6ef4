"""dse: design-space exploration of fluid-batching NPUs serving early-exit DNNs."""

__version__ = "0.1.0"


def __getattr__(name):  # lazy: `import dse` stays light for the CLI
    if name == "evaluate":
        from dse.evaluate import evaluate

        return evaluate
    raise AttributeError(f"module 'dse' has no attribute {name!r}")
