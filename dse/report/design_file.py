"""Read and validate an exported design file (TOML or JSON, schema version 1)."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field

from dse.common import InputError, check_keys, did_you_mean
from dse.common.files import check_input_file, read_input_bytes
from dse.report.export import DESIGN_SUFFIXES, SCHEMA_VERSION

_TOP_KEYS = ("schema_version", "npu", "policy", "scenario", "metrics", "area_mm2",
             "provenance")
_REQUIRED = ("schema_version", "npu", "policy")


@dataclass
class DesignFile:
    """A loaded design file; ``npu`` and ``scenario`` stay dicts until validated by use."""

    path: str
    schema_version: int
    npu: dict
    policy: str
    params: dict
    scenario: dict
    metrics: dict = field(default_factory=dict)
    area_mm2: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def seed(self):
        return self.provenance.get("seed")

    @property
    def requests(self):
        return self.provenance.get("requests")

    @property
    def fidelity(self) -> dict:
        return dict(self.provenance.get("fidelity") or {})

    @property
    def replications(self) -> int:
        return int(self.fidelity.get("replications") or 1)


def read_design_dict(path: str) -> dict:
    """The raw mapping of a ``.toml`` / ``.json`` design file (errors are one line)."""
    check_input_file(path, what="design file")
    ext = os.path.splitext(path)[1].lower()
    if ext not in DESIGN_SUFFIXES:
        raise InputError("design files are TOML or JSON", source=path, field="extension",
                         allowed=", ".join(DESIGN_SUFFIXES))
    raw = read_input_bytes(path, what="design file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file (byte {exc.start})", source=path) from None
    try:
        data = tomllib.loads(text) if ext == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if ext == ".toml" else "JSON"
        raise InputError(f"not valid {kind}: {exc}", source=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a table at the top level", source=path)
    return data


def _spec_not_design(path: str, doc: dict) -> None:
    """A study spec where a design file is expected: say which command takes it."""
    if "study" in doc or "space" in doc:
        raise InputError(f"this is a study spec, not a design file: `dse run {path}` runs "
                         f"it and `dse export {path} --pick RULE` writes a design file",
                         source=path)


def read_npu(path: str, *, field: str = "--npu"):
    """``(NpuDesign, policy name or None, policy parameters)`` of a design file given
    where a design is expected (``--npu``): an exported design (TOML or JSON, with its
    ``[policy]``) or a bare ``[npu]`` table such as ``cost_models/designs/*.toml``."""
    from cost_models import NpuDesign

    doc = read_design_dict(path)
    _spec_not_design(path, doc)
    if "npu" not in doc:
        raise InputError(f"missing table [npu]{did_you_mean('npu', list(doc))}; a design "
                         "file has [npu] (and, when exported, [policy])", source=path,
                         field="npu")
    design = NpuDesign.from_dict(doc["npu"], source=path)
    policy = doc.get("policy")
    if not isinstance(policy, dict):
        return design, None, {}
    params = dict(policy)
    name = params.pop("name", None)
    if not isinstance(name, str) or not name:
        raise InputError("missing policy name", source=path, field="policy.name")
    return design, name, params


def load_design(path: str) -> DesignFile:
    """Load and check a design file: schema version, required tables, field types."""
    data = read_design_dict(path)
    _spec_not_design(path, data)
    for key in _REQUIRED:
        if key not in data:
            raise InputError(f"missing required field '{key}'", source=path, field=key)
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(f"schema_version must be a positive integer, got {version!r}",
                         source=path, field="schema_version")
    if version > SCHEMA_VERSION:
        raise InputError(f"written by a newer dse (schema_version {version}; this version "
                         f"reads up to {SCHEMA_VERSION}): upgrade dse", source=path,
                         field="schema_version")
    check_keys(data, _TOP_KEYS, source=path)
    for key in ("npu", "policy", "scenario", "metrics", "area_mm2", "provenance"):
        if key in data and not isinstance(data[key], dict):
            raise InputError(f"must be a table, got {type(data[key]).__name__}", source=path,
                             field=key)
    policy = dict(data["policy"])
    name = policy.pop("name", None)
    if not isinstance(name, str) or not name:
        raise InputError("missing policy name", source=path, field="policy.name")
    prov = data.get("provenance", {})
    for key in ("seed", "requests", "trial"):
        v = prov.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise InputError(f"must be an integer, got {v!r}", source=path,
                             field=f"provenance.{key}")
    if not isinstance(prov.get("fidelity", {}), dict):
        raise InputError("must be a table", source=path, field="provenance.fidelity")
    if not isinstance(prov.get("needed", []), list):
        raise InputError("must be a list of metric names", source=path,
                         field="provenance.needed")
    return DesignFile(path=path, schema_version=version, npu=dict(data["npu"]), policy=name,
                      params=policy, scenario=dict(data.get("scenario", {})),
                      metrics=dict(data.get("metrics", {})),
                      area_mm2=dict(data.get("area_mm2", {})), provenance=dict(prov))
