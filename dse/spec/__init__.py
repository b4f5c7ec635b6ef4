"""Study specs: a TOML file validated into the typed objects the search and the reports use.

Public API: :func:`load_spec` / :func:`parse_spec` -> :class:`StudySpec` (with
:class:`Fidelity`, :class:`Constraint` and the search :class:`Space` of :class:`Dim`),
and the storage-path helpers :func:`resolve_storage_path`, :func:`default_storage`,
:func:`storage_file` and :func:`results_folder` (the one rule for a study's results folder).
The spec validates against every catalogue (policies, metrics, samplers, arrival
processes, models), so it sits above ``dse.search`` in the layer order.
"""

from dse.common.lazy import lazy_exports
from dse.spec._load import load_spec, parse_spec
from dse.spec.paths import default_storage, resolve_storage_path, results_folder, storage_file

# The typed objects load on first use: a spec whose document is malformed (TOML, tables,
# [study] key names) is reported without the dataclasses and the catalogues.
__getattr__ = lazy_exports(__name__, {
    **dict.fromkeys(("Dim", "Space", "decode_choice", "encode_choice", "parse_dim"),
                    "dse.spec.space"),
    **dict.fromkeys(("DIRECTIONS", "Constraint", "Fidelity", "StudySpec", "spec_hash"),
                    "dse.spec.study")})

__all__ = ["DIRECTIONS", "Constraint", "Dim", "Fidelity", "Space", "StudySpec",
           "decode_choice", "default_storage", "encode_choice", "load_spec", "parse_dim",
           "parse_spec", "resolve_storage_path", "results_folder", "spec_hash", "storage_file"]
