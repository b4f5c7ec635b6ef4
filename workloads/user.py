"""Users' own models: a small TOML file pointing at a SCALE-Sim topology CSV or an ONNX
file, plus the exits, the exit profile and per-exit accuracies::

    [model]
    name = "doorcam"
    topology = "doorcam.csv"        # SCALE-Sim topology (format = "conv" | "gemm")
    # onnx = "doorcam.onnx"         # ... or an ONNX file (skip_unsupported = false)
    exits = ["exit1_fc", "fc"]      # last layer of each exit: layer names or indices
    heads = ["exit1_conv", "exit1_fc"]   # CSV only: layers of early-exit heads
    exit_profile = [0.6, 0.4]
    exit_accuracy = [0.81, 0.90]
    source = "where the numbers come from"

Paths are relative to the TOML file.  For a CSV the layers keep file order (exit heads
inline after their branch point, as in the zoo); for ONNX see
:mod:`workloads.onnx_import`.
"""

from __future__ import annotations

import functools
import os

from cost_models import load_topology
from dse.common import InputError, check_keys, check_str, did_you_mean, read_toml, table
from dse.common.files import check_input_file
from workloads.model import EarlyExitModel, validate_exits

MODEL_KEYS = ("name", "topology", "format", "onnx", "skip_unsupported", "exits", "heads",
              "exit_profile", "exit_accuracy", "source")


def load_user_model(path: str) -> EarlyExitModel:
    """Load the ``[model]`` table of a model TOML file (cached per file version)."""
    path = os.path.abspath(check_input_file(path, what="model file"))
    return _load(path, os.path.getmtime(path))


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime: float) -> EarlyExitModel:
    t = table(read_toml(path), "model", source=path)
    check_keys(t, MODEL_KEYS, source=path, prefix="model.")
    base = os.path.dirname(path)
    name = check_str(t.get("name", os.path.splitext(os.path.basename(path))[0]),
                     source=path, field="model.name", empty=False)
    if ("topology" in t) == ("onnx" in t):
        raise InputError("give exactly one of 'topology' (SCALE-Sim CSV) and 'onnx'",
                         source=path, field="model.topology")
    for key in ("exits", "exit_profile", "exit_accuracy"):
        if key not in t:
            raise InputError("missing", source=path, field=f"model.{key}")
        if not isinstance(t[key], list) or not t[key]:
            raise InputError(f"expected a non-empty list, got {t[key]!r}", source=path,
                             field=f"model.{key}")
    exits = t["exits"]
    if "onnx" in t:
        from workloads.onnx_import import load_onnx_layers

        if "heads" in t:
            raise InputError("heads are derived from the ONNX graph; remove 'heads'",
                             source=path, field="model.heads")
        skip = t.get("skip_unsupported", False)
        if not isinstance(skip, bool):
            raise InputError(f"expected true or false, got {skip!r}", source=path,
                             field="model.skip_unsupported")
        layers, exit_layers, head = load_onnx_layers(
            _rel(base, t["onnx"], path, "model.onnx"), exits, skip_unsupported=skip,
            source=path, field="model.onnx")
    else:
        fmt = t.get("format", "conv")
        if fmt not in ("conv", "gemm"):
            raise InputError(f"unknown topology format {fmt!r}", source=path,
                             field="model.format", allowed=("conv", "gemm"))
        if "skip_unsupported" in t:
            raise InputError("skip_unsupported applies to ONNX models only", source=path,
                             field="model.skip_unsupported")
        layers = load_topology(_rel(base, t["topology"], path, "model.topology"),
                               gemm=fmt == "gemm")
        names = [ly.name for ly in layers]
        exit_layers = [_index(x, names, path, f"model.exits[{i}]") for i, x in enumerate(exits)]
        heads = t.get("heads", [])
        if not isinstance(heads, list):
            raise InputError(f"expected a list of layer names, got {heads!r}", source=path,
                             field="model.heads")
        head_idx = {_index(x, names, path, f"model.heads[{i}]") for i, x in enumerate(heads)}
        head = tuple(i in head_idx for i in range(len(layers)))
    validate_exits(name, len(layers), list(exit_layers), t["exit_profile"],
                   t["exit_accuracy"], source=path, field_prefix="model.")
    source = t.get("source", f"user model {os.path.basename(path)}")
    return EarlyExitModel(name=name, layers=tuple(layers), exit_layers=tuple(exit_layers),
                          exit_profile=tuple(float(p) for p in t["exit_profile"]),
                          exit_accuracy=tuple(float(a) for a in t["exit_accuracy"]),
                          source=str(source), head=tuple(head))


def _rel(base: str, p, src: str, field: str) -> str:
    if not isinstance(p, str) or not p:
        raise InputError(f"expected a file path, got {p!r}", source=src, field=field)
    p = os.path.expanduser(p)
    return p if os.path.isabs(p) else os.path.join(base, p)


def _index(x, names: list[str], src: str, field: str) -> int:
    if isinstance(x, bool):
        raise InputError(f"expected a layer name or index, got {x!r}", source=src, field=field)
    if isinstance(x, int):
        if not 0 <= x < len(names):
            raise InputError(f"layer index {x} is outside the network "
                             f"(layers 0..{len(names) - 1})", source=src, field=field)
        return x
    if isinstance(x, str):
        if x not in names:
            raise InputError(f"no layer named '{x}'{did_you_mean(x, names)}", source=src,
                             field=field)
        return names.index(x)
    raise InputError(f"expected a layer name or index, got {x!r}", source=src, field=field)
