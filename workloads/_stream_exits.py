"""Where a stream's requests leave the network: its fixed exit profile, or the
``difficulty`` rule's thresholds on the model's confidence curve (``workloads.exits``)."""

from __future__ import annotations

import numpy as np

from workloads.exits import default_thresholds, difficulty_exits, fixed_exits, threshold_profile
from workloads.registry import get_model


def _exit_rule(s):
    """(model, fixed profile or None, thresholds, slope) of stream ``s``'s exits."""
    model = get_model(s.model)
    profile = s.exit_profile if s.exit_profile is not None else model.exit_profile
    if s.exit_mode == "profile":
        return model, profile, None, None
    slope = model.confidence_slope if s.confidence_slope is None else s.confidence_slope
    thresholds = (s.exit_thresholds if s.exit_thresholds is not None
                  else default_thresholds(profile, model.exit_accuracy, slope))
    return model, None, thresholds, slope


def stream_exits(s, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exit, accuracy) of requests of stream ``s`` from their uniform draws ``u``."""
    model, profile, thresholds, slope = _exit_rule(s)
    if profile is not None:
        return fixed_exits(u, profile, model.exit_accuracy)
    return difficulty_exits(u, model.exit_accuracy, thresholds, slope)


def stream_profile(s) -> tuple[float, ...]:
    """Share of stream ``s``'s requests expected at each exit: its fixed profile, or in the
    difficulty mode the profile its thresholds imply (what a scheduler may know)."""
    model, profile, thresholds, slope = _exit_rule(s)
    if profile is not None:
        return tuple(float(p) for p in profile)
    return threshold_profile(model.exit_accuracy, thresholds, slope)
