"""Where a study keeps its storage and results: paths relative to the spec's folder."""

from __future__ import annotations

from pathlib import Path


def default_storage(results_dir: Path) -> str:
    """The default storage: a SQLite file ``study.db`` in the results folder."""
    return f"sqlite:///{(results_dir / 'study.db').as_posix()}"


def resolve_storage_path(url: str, base: Path) -> str:
    """Make relative SQLite/journal paths absolute against ``base`` (the spec's folder)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        p = Path(url[len("sqlite:///"):])
        return url if p.is_absolute() else f"sqlite:///{(base / p).as_posix()}"
    if url.startswith("journal:///"):
        p = Path(url[len("journal:///"):])
        return url if p.is_absolute() else f"journal:///{(base / p).as_posix()}"
    if "://" not in url:
        p = Path(url)
        return str(p if p.is_absolute() else base / p)
    return url
