"""The spec's entry points: read a file and check its document's shape (TOML, tables, the
key names of ``[study]``) before the typed objects of :mod:`dse.spec.study` load, so that
the most common mistakes are reported without importing the catalogues."""

from __future__ import annotations

import os
from pathlib import Path

from dse.common import InputError, check_keys, check_table, parse_toml
from dse.common.files import read_input_bytes

STUDY_KEYS = ("name", "storage", "results_dir", "sampler", "sampler_options", "n_trials",
              "timeout", "seed", "objectives", "constraints")


def load_spec(path: str | Path):
    """Read and validate a study spec file (a :class:`dse.spec.StudySpec`)."""
    path = Path(path)
    source = str(path)
    if "\0" not in source and not os.path.lexists(source):
        raise InputError("no such spec file", source=source)
    raw = read_input_bytes(source, what="spec file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file (byte {exc.start}), expected TOML",
                         source=source) from None
    return parse_spec(text, source=source, base=path.resolve().parent)


def parse_spec(text: str, *, source: str = "<spec>", base: Path | None = None):
    """Validate spec TOML ``text`` (a :class:`dse.spec.StudySpec`); relative paths resolve
    against ``base``."""
    base = base or Path.cwd()
    doc = parse_toml(text, source=source)
    if "study" not in doc and ("npu" in doc or "schema_version" in doc):
        raise InputError(f"this is a design file, not a study spec: `dse evaluate {source}` "
                         f"re-simulates it, `dse simulate --npu {source}` runs it on a "
                         "workload", source=source)
    check_keys(doc, ("study", "scenario", "fidelity", "space"), source=source)
    for key in ("study", "scenario", "space"):
        if key not in doc:
            raise InputError(f"missing [{key}] table", source=source, field=key)
    study = check_table(doc["study"], source=source, field="study")
    check_keys(study, STUDY_KEYS, source=source, prefix="study.")
    from dse.spec.study import from_document

    return from_document(doc, text=text, source=source, base=base)
