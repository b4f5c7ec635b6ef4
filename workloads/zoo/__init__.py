"""The model zoo: early-exit DNNs defined in code, with exit data from ``data/zoo.toml``.

Adding a zoo model is one builder module exposing ``BUILDERS = {name: fn}`` (``fn()``
returns a :class:`workloads._build.NetBuilder`), one line in ``_MODULES`` and one table
in ``workloads/data/zoo.toml`` (exit profile, per-exit accuracy, confidence slope, and a
provenance record for every number, see :mod:`workloads.zoo._provenance`).
"""

from __future__ import annotations

import functools
import importlib
from importlib import resources

from dse.common import InputError, did_you_mean, parse_toml
from workloads.model import EarlyExitModel
from workloads.zoo._provenance import MARKS as PROVENANCE_MARKS
from workloads.zoo._provenance import expand, sweep_report

__all__ = ["PROVENANCE_MARKS", "threshold_fit", "zoo_data", "zoo_model", "zoo_names"]

_MODULES = (
    "workloads.zoo.resnet",
    "workloads.zoo.mobilenet",
    "workloads.zoo.alexnet",
    "workloads.zoo.msdnet",
    "workloads.zoo.bert",
)


@functools.cache
def _builders() -> dict:
    out = {}
    for mod in _MODULES:
        out.update(importlib.import_module(mod).BUILDERS)
    return out


@functools.cache
def zoo_data() -> dict:
    """The parsed ``data/zoo.toml``: per model exit profile, accuracy and citations."""
    text = resources.files("workloads").joinpath("data/zoo.toml").read_text()
    return parse_toml(text, source="workloads/data/zoo.toml")


def zoo_names() -> list[str]:
    return list(_builders())


@functools.cache
def zoo_model(name: str) -> EarlyExitModel:
    """Build the zoo model ``name`` (cached; models are immutable)."""
    builders = _builders()
    if name not in builders:
        raise InputError(f"unknown model '{name}'{did_you_mean(name, builders)}",
                         field="model", allowed=list(builders))
    b = builders[name]()
    data = zoo_data()[name]
    return EarlyExitModel(name=name, layers=tuple(b.layers), exit_layers=tuple(b.exits),
                          exit_profile=tuple(float(p) for p in data["exit_profile"]),
                          exit_accuracy=tuple(float(a) for a in data["exit_accuracy"]),
                          source=data["source"], head=tuple(b.head),
                          confidence_slope=float(data["confidence_slope"]),
                          provenance=expand(name, data, len(b.exits)))


def threshold_fit(name: str) -> dict | None:
    """The difficulty-model fit of zoo model ``name`` against its published threshold
    sweep (points, residuals, equivalent thresholds), or ``None`` if it has none."""
    data = zoo_data().get(name, {})
    return sweep_report(data) if "threshold_sweep" in data else None
