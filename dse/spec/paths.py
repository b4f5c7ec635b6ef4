"""Where a study keeps its storage and its results.

Relative paths: a path written in a spec (``study.storage``, ``study.results_dir``,
``scenario.file``) is relative to the spec's folder; a path given on the command line
(``--storage``, ``--out``) is relative to the current directory.

The results folder of a study (dashboard, knee design, exported designs) is derived from
the spec and the storage the command uses, by :func:`results_folder` only:

* a file storage (SQLite, journal): the spec's ``results_dir`` when the file lies in it
  (the default ``results/<name>/study.db``); otherwise the folder named after the study
  next to the file (``/data/qs.db`` -> ``/data/<name>/``), or the file's own folder when
  that folder already carries the study's name (``/data/<name>/study.journal``);
* a server storage (PostgreSQL, MySQL): the spec's ``results_dir``.

So two studies never share a results folder unless they share one file storage *and* the
spec's ``results_dir``, and every command (``dse run``, ``dashboard``, ``export``) writes
the same study's reports to the same place.
"""

from __future__ import annotations

from pathlib import Path

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""A bare storage path with one of these suffixes is a SQLite file (``.journal``: a
journal file)."""


def default_storage(results_dir: Path) -> str:
    """The default storage: a SQLite file ``study.db`` in the results folder."""
    return f"sqlite:///{(results_dir / 'study.db').as_posix()}"


def resolve_storage_path(url: str, base: Path) -> str:
    """Make relative SQLite/journal paths absolute against ``base`` (the spec's folder for
    a spec's storage, the current directory for ``--storage``); a bare ``*.db`` path
    becomes a ``sqlite:///`` URL."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        p = Path(url[len("sqlite:///"):])
        return url if p.is_absolute() else f"sqlite:///{(base / p).as_posix()}"
    if url.startswith("journal:///"):
        p = Path(url[len("journal:///"):])
        return url if p.is_absolute() else f"journal:///{(base / p).as_posix()}"
    if "://" not in url:
        p = Path(url)
        p = p if p.is_absolute() else base / p
        return f"sqlite:///{p.as_posix()}" if p.suffix in SQLITE_SUFFIXES else str(p)
    return url


def storage_file(url: str) -> Path | None:
    """The file of a SQLite or journal storage URL (``None`` for a server storage)."""
    from dse.search import storage_kind

    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    if url.startswith("journal:///"):
        return Path(url[len("journal:///"):])
    if "://" not in url and storage_kind(url) == "journal":
        return Path(url)
    return None


def results_folder(spec, storage_url: str | None = None) -> Path:
    """The results folder of ``spec``'s study in the storage ``storage_url`` (default:
    the spec's storage); see the module docstring for the rule."""
    path = storage_file(storage_url or spec.storage_url)
    results = Path(spec.results_dir)
    if path is None:
        return results
    folder = Path(path).absolute().parent
    if folder == results.absolute():
        return results
    return folder if folder.name == spec.name else folder / spec.name
