"""User-facing error types shared by every package (the bottom layer).

An :class:`InputError` is a user mistake (bad file, field or value): the CLI prints its
one-line message and exits with code 2.  A :class:`RunError` is a runtime failure (a
storage failing during a run, a crashed worker process): one line, exit code 1.
Library code names spec fields and function parameters in ``field``; the CLI maps them
to its flags where they differ.
"""

from __future__ import annotations

from collections.abc import Iterable


class InputError(ValueError):
    """A user mistake in a file, a field or a command-line value.

    ``str(err)`` is one line: ``"<source>: <field>: <message> (allowed: <allowed>)"``.
    """

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 allowed: str | Iterable | None = None):
        self.source = source
        self.field = field
        self.allowed = allowed if (allowed is None or isinstance(allowed, str)) else ", ".join(
            str(a) for a in allowed)
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [p for p in (self.source, self.field) if p]
        text = ": ".join([*parts, self.message])
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        # one line, and no control character reaches the terminal (paths may hold any)
        text = text.replace("\n", " ")
        return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)

    def renamed(self, field: str) -> InputError:
        """The same error naming ``field`` instead (e.g. a parameter as its CLI flag)."""
        return InputError(self.message, source=self.source, field=field, allowed=self.allowed)


class RunError(RuntimeError):
    """A runtime failure that is not a user mistake (a storage failing during a run, a
    worker process that crashed)."""


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest option, or ``""``."""
    import difflib  # loads with the first mistake that needs a suggestion

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
