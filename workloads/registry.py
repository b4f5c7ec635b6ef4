"""Model look-up: zoo names, or a user model file (``*.toml``, see :mod:`workloads.user`)."""

from __future__ import annotations

import os

from dse.common import InputError, did_you_mean
from workloads.model import EarlyExitModel
from workloads.zoo import zoo_model, zoo_names


def list_models() -> list[str]:
    """Names of the zoo models."""
    return zoo_names()


def is_model_file(name: str) -> bool:
    return isinstance(name, str) and name.lower().endswith(".toml")


def get_model(name: str, *, source: str | None = None, field: str | None = "model",
              base_dir: str | None = None) -> EarlyExitModel:
    """The zoo model ``name``, or the user model described by the TOML file ``name``."""
    if not isinstance(name, str):
        raise InputError(f"expected a model name, got {name!r}", source=source, field=field,
                         allowed=list_models())
    if is_model_file(name):
        from workloads.user import load_user_model

        path = name if os.path.isabs(name) or not base_dir else os.path.join(base_dir, name)
        return load_user_model(path)
    names = list_models()
    if name not in names:
        raise InputError(f"unknown model '{name}'{did_you_mean(name, names)}; a model is a "
                         "zoo name or a model .toml file", source=source, field=field,
                         allowed=names)
    return zoo_model(name)
