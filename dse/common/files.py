"""Input and output paths: checked before use, written atomically.

Input files must be regular readable files (a symlink to one is fine): a path with a NUL
byte, a directory, a device such as ``/dev/zero``, a FIFO or a socket is refused before
anything reads it, and so is a file larger than the memory budget.  Errors name the path
and the field, never the file's contents: a file the project did not write may be
anything (a symlink to a secret, say), so no line of it is ever quoted.

Outputs are checked before any work starts (:func:`check_output`) and written through a
temporary file in the same folder that is renamed over the target, or removed on any
failure, Ctrl-C included (:func:`atomic_write`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from contextlib import suppress

from dse.common.errors import InputError
from dse.common.limits import check_memory

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_input_file(path, *, source: str | None = None, field: str | None = None,
                     what: str = "file") -> str:
    """``path`` as a string, after checking it names a regular, readable file of a size
    that fits the memory budget.  Errors: ``<source>: <field>: <path>: <reason>``."""
    text = os.fspath(path)
    if "\0" in text:
        raise InputError(f"the {what} path contains a NUL byte", source=source, field=field)
    src, msg_prefix = (text, "") if source is None else (source, f"{text}: ")
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise InputError(f"{msg_prefix}file not found", source=src, field=field) from None
    except OSError as exc:
        raise InputError(f"{msg_prefix}cannot read {what}: {exc.strerror}", source=src,
                         field=field) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{msg_prefix}is {_kind(st.st_mode)}, expected a regular {what}",
                         source=src, field=field)
    if not os.access(text, os.R_OK):
        raise InputError(f"{msg_prefix}cannot read {what}: permission denied", source=src,
                         field=field)
    check_memory(st.st_size * 4, f"reading a {st.st_size}-byte {what}", source=src,
                 field=field)
    return text


def read_input_bytes(path, *, source: str | None = None, field: str | None = None,
                     what: str = "file") -> bytes:
    """The bytes of a checked input file (:func:`check_input_file`)."""
    text = check_input_file(path, source=source, field=field, what=what)
    try:
        with open(text, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", source=source or text,
                         field=field) from None


def check_output(path, *, field: str | None = None, what: str = "output file") -> str:
    """``path`` as a string, after checking it can be written: no NUL byte, not an
    existing directory or special file, its folder exists and takes a new file (a probe
    file is created and removed)."""
    text = os.fspath(path)
    if "\0" in text:
        raise InputError(f"the {what} path contains a NUL byte", field=field)
    if not text:
        raise InputError(f"expected an {what} path, got ''", field=field)
    if os.path.lexists(text):
        try:
            st = os.stat(text)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", source=text,
                             field=field) from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"is {_kind(st.st_mode)}, expected a regular {what}",
                             source=text, field=field)
        if not os.access(text, os.W_OK):
            raise InputError("cannot write: permission denied", source=text, field=field)
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise InputError(f"directory '{os.path.dirname(text) or parent}' does not exist",
                         source=text, field=field)
    probe = _temp_name(text, "probe")
    try:  # the file is replaced by a rename, so its folder must take a new file
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write in directory '{os.path.dirname(text) or parent}': "
                         f"{exc.strerror}", source=text, field=field) from None
    return text


def _temp_name(path: str, kind: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{kind}{os.getpid()}")


def atomic_write(path, write: Callable[[str], None], *, field: str | None = None) -> str:
    """Call ``write(tmp)`` to fill a temporary file next to ``path``, then rename it over
    ``path``; on any failure (Ctrl-C included) the temporary file is removed and ``path``
    is untouched.  An OSError is an :class:`InputError` naming ``path``."""
    text = check_output(path, field=field)
    tmp = _temp_name(text, "tmp")
    try:
        write(tmp)
        os.replace(tmp, text)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", source=text,
                         field=field) from None
    finally:
        with suppress(OSError):
            os.unlink(tmp)
    return text


def atomic_write_text(path, text: str, *, field: str | None = None) -> str:
    """:func:`atomic_write` of a UTF-8 text."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    return atomic_write(path, write, field=field)
