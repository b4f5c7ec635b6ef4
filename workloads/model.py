"""The early-exit model: a layer table (exit heads inline) plus exit metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cost_models import Layer
from dse.common import InputError
from workloads.exits import DEFAULT_SLOPE, shift_profile

_PROFILE_TOL = 1e-6


@dataclass(frozen=True)
class EarlyExitModel:
    """An early-exit DNN as a table of GEMM layers.

    ``layers`` are in execution order with each exit head inline right after its branch
    point; ``exit_layers[e]`` is the index of the last layer of exit ``e`` (the last one is
    ``len(layers) - 1``).  A request leaving at exit ``e`` runs layers
    ``0..exit_layers[e]`` (earlier heads included).  ``exit_profile`` is the share of
    samples leaving at each exit (sums to 1); ``exit_accuracy`` the top-1 accuracy
    (fraction) of each exit's classifier on the whole test set.  ``head`` marks layers
    that belong to an early-exit head (not to the backbone); empty means "none".
    ``confidence_slope`` is the slope of the difficulty exit model (see
    :mod:`workloads.exits`) that streams use unless they set their own.  ``provenance``
    maps each numeric field (``exits``, ``exit_profile``, ``exit_accuracy``,
    ``confidence_slope``, ...) to one record per element: ``kind`` (published, mapped,
    fitted, assumed) with its ``cite``/``mapping`` or ``reason``; empty for user models.
    """

    name: str
    layers: tuple[Layer, ...]
    exit_layers: tuple[int, ...]
    exit_profile: tuple[float, ...]
    exit_accuracy: tuple[float, ...]
    source: str = ""
    head: tuple[bool, ...] = field(default=())
    confidence_slope: float = DEFAULT_SLOPE
    provenance: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self):
        validate_exits(self.name, len(self.layers), self.exit_layers, self.exit_profile,
                       self.exit_accuracy, source=self.name)
        if self.head and len(self.head) != len(self.layers):
            raise InputError(f"head mask has {len(self.head)} entries for "
                             f"{len(self.layers)} layers", source=self.name, field="head")

    @property
    def n_exits(self) -> int:
        return len(self.exit_layers)

    @property
    def macs(self) -> np.ndarray:
        """MACs per sample of every layer (int64[L])."""
        return np.array([_macs(layer) for layer in self.layers], dtype=np.int64)

    @property
    def gmacs(self) -> float:
        """GMACs per sample of a request that leaves at the last exit (all heads run)."""
        return float(self.macs.sum()) / 1e9

    @property
    def backbone_gmacs(self) -> float:
        """GMACs per sample of the backbone alone (final classifier included, heads not)."""
        macs = self.macs
        if self.head:
            macs = macs[~np.asarray(self.head, dtype=bool)]
        return float(macs.sum()) / 1e9

    @property
    def exit_gmacs(self) -> tuple[float, ...]:
        """Cumulative GMACs per sample of a request leaving at each exit."""
        cum = np.cumsum(self.macs)
        return tuple(float(cum[i]) / 1e9 for i in self.exit_layers)

    @property
    def params_m(self) -> float:
        """Millions of weights (shared-weight layers only; biases and BN not counted)."""
        return sum(int(layer.weight_elems) for layer in self.layers
                   if layer.weights_shared) / 1e6

    @property
    def expected_gmacs(self) -> float:
        """Mean GMACs per request under the default exit profile."""
        return float(np.dot(self.exit_gmacs, self.exit_profile))

    @property
    def expected_accuracy(self) -> float:
        """Mean accuracy under the default exit profile (per-exit accuracy weighted)."""
        return float(np.dot(self.exit_accuracy, self.exit_profile))

    def with_exits(self, exit_profile=None, exit_accuracy=None) -> EarlyExitModel:
        """A copy with another exit profile and/or per-exit accuracy (the replaced
        numbers lose their provenance records)."""
        prov = {k: v for k, v in self.provenance.items()
                if not (k == "exit_profile" and exit_profile is not None)
                and not (k == "exit_accuracy" and exit_accuracy is not None)}
        return EarlyExitModel(
            self.name, self.layers, self.exit_layers,
            tuple(float(p) for p in (self.exit_profile if exit_profile is None else exit_profile)),
            tuple(float(a) for a in (self.exit_accuracy if exit_accuracy is None else exit_accuracy)),
            self.source, self.head, self.confidence_slope, prov)

    def with_exit_shift(self, shift: float) -> EarlyExitModel:
        """A copy whose exit profile is moved later (``shift > 0``, 1 = no early exit) or
        earlier (``shift < 0``); see :func:`workloads.exits.shift_profile`."""
        return self.with_exits(exit_profile=shift_profile(self.exit_profile, shift))

    def summary(self) -> dict:
        """The JSON object of ``dse workloads --json``."""
        return {
            "name": self.name,
            "layers": len(self.layers),
            "gmacs": round(self.gmacs, 4),
            "backbone_gmacs": round(self.backbone_gmacs, 4),
            "params_m": round(self.params_m, 3),
            "exits": list(self.exit_layers),
            "exit_gmacs": [round(g, 4) for g in self.exit_gmacs],
            "exit_profile": list(self.exit_profile),
            "exit_accuracy": list(self.exit_accuracy),
            "source": self.source,
            "confidence_slope": self.confidence_slope,
            "provenance": {k: [dict(r) for r in v] for k, v in self.provenance.items()},
        }

    def layer_rows(self) -> list[dict]:
        """One dict per layer (the table of ``dse workloads show``)."""
        exit_at = {li: e for e, li in enumerate(self.exit_layers)}
        rows = []
        for i, layer in enumerate(self.layers):
            rows.append({
                "index": i, "name": layer.name, "kind": layer.kind,
                "rows": int(layer.rows), "reduction": int(layer.reduction),
                "cols": int(layer.cols), "groups": int(layer.groups),
                "in_elems": int(layer.in_elems), "weight_elems": int(layer.weight_elems),
                "weights_shared": bool(layer.weights_shared),
                "macs": _macs(layer), "head": bool(self.head[i]) if self.head else False,
                "exit": exit_at.get(i),
            })
        return rows


def _macs(layer: Layer) -> int:
    return int(layer.rows) * int(layer.reduction) * int(layer.cols) * int(layer.groups)


def validate_exits(name, n_layers, exit_layers, exit_profile, exit_accuracy, *,
                   source: str, field_prefix: str = "") -> None:
    """Check exit positions, profile and accuracies; raise :class:`InputError`."""
    if n_layers == 0:
        raise InputError(f"model '{name}' has no layers", source=source,
                         field=f"{field_prefix}layers")
    if not exit_layers:
        raise InputError(f"model '{name}' has no exits", source=source,
                         field=f"{field_prefix}exits")
    for e, li in enumerate(exit_layers):
        if isinstance(li, bool) or not isinstance(li, int | np.integer):
            raise InputError(f"exit position must be an integer layer index, got {li!r}",
                             source=source, field=f"{field_prefix}exits[{e}]")
        if not 0 <= li < n_layers:
            raise InputError(f"exit position {li} is outside the network "
                             f"(layers 0..{n_layers - 1})", source=source,
                             field=f"{field_prefix}exits[{e}]")
    if any(b <= a for a, b in zip(exit_layers, exit_layers[1:], strict=False)):
        raise InputError(f"exit positions must be strictly increasing, got {list(exit_layers)}",
                         source=source, field=f"{field_prefix}exits")
    if exit_layers[-1] != n_layers - 1:
        raise InputError(f"the last exit must be the last layer ({n_layers - 1}), "
                         f"got {exit_layers[-1]}", source=source, field=f"{field_prefix}exits")
    check_profile(exit_profile, len(exit_layers), source=source,
                  field=f"{field_prefix}exit_profile")
    if len(exit_accuracy) != len(exit_layers):
        raise InputError(f"{len(exit_accuracy)} accuracies for {len(exit_layers)} exits",
                         source=source, field=f"{field_prefix}exit_accuracy")
    for e, a in enumerate(exit_accuracy):
        if isinstance(a, bool) or not isinstance(a, int | float | np.floating | np.integer):
            raise InputError(f"accuracy must be a number, got {a!r}", source=source,
                             field=f"{field_prefix}exit_accuracy[{e}]")
        if not 0.0 <= float(a) <= 1.0:
            raise InputError(f"accuracy {a} is not a fraction in [0, 1]", source=source,
                             field=f"{field_prefix}exit_accuracy[{e}]")


def check_profile(profile, n_exits: int, *, source: str, field: str) -> None:
    """An exit profile: ``n_exits`` non-negative shares summing to 1."""
    if len(profile) != n_exits:
        raise InputError(f"{len(profile)} shares for {n_exits} exits", source=source,
                         field=field)
    for e, p in enumerate(profile):
        if isinstance(p, bool) or not isinstance(p, int | float | np.floating | np.integer):
            raise InputError(f"share must be a number, got {p!r}", source=source,
                             field=f"{field}[{e}]")
        if not 0.0 <= float(p) <= 1.0:
            raise InputError(f"share {p} is not in [0, 1]", source=source, field=f"{field}[{e}]")
    total = float(sum(float(p) for p in profile))
    if abs(total - 1.0) > _PROFILE_TOL:
        raise InputError(f"exit profile sums to {total:.6g}, not 1", source=source, field=field)
