"""Run the console examples of README.md and docs/*.md and compare their output.

An *example* is a fenced code block whose lines start with ``$ `` (a command) followed by
its expected output, or a ```bash block of commands immediately followed by a plain
block with their output.  Each example runs in a fresh scratch directory holding copies
of ``studies/`` and ``docs/examples/`` (fixture files such as ``typo.toml``) and links to
the rest of the repository, so paths in the docs work as written and nothing is written
into the work tree.  Examples of one Markdown file run in order and share that
directory, so an example may use what an earlier one wrote (``knee.toml``).

Matching: each expected line must equal the actual line (trailing spaces ignored), except

* a line that is only ``...`` or ``…`` matches any number of lines;
* ``…`` or ``...`` inside a line matches any text (use it for timings, absolute paths,
  abridged lists);
* blank lines, progress bars (tqdm lines) and the cold-cache note ``dse: compiling
  kernels ...`` are dropped from both sides; stdout and stderr are read together, in order.

So numbers shown in the docs are checked digit for digit: a change that moves one fails
the check.  Put ``<!-- example: skip REASON -->`` on the line before a block that is not
a reproducible example (measured timings), ``<!-- example: heavy -->`` before one that
takes long (run by ``python3 -m pytest -m heavy`` and ``--all``).  Adding an example is
writing it in the docs; the test picks it up.

Usage: ``python3 docs/examples.py [--all] [FILE.md ...]`` prints each example's result
and a diff for each failure (exit 1 on any failure).
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*example:\s*(skip|heavy)\b\s*(.*?)\s*-->\s*$")
BAR = re.compile(r"\d+%\|.*\|")
DROPPED = (re.compile(r"^dse: compiling kernels "),)
ELLIPSIS = ("...", "…")
TIMEOUT_S = 900


@dataclass
class Example:
    """One example: where it is, its commands, the expected output and its mode."""

    path: Path
    line: int
    commands: list[str]
    expected: list[str]
    mode: str = "fast"  # fast | heavy | skip
    reason: str = ""
    outputs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _blocks(lines: list[str]):
    """``(start line, language, body lines, directive)`` of each fenced block."""
    i, directive = 0, None
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if m:
            directive = (m.group(1), m.group(2))
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f is None:
            if lines[i].strip():
                directive = None
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        yield i + 1, f.group(1), lines[i + 1:j], directive, j
        directive = None
        i = j + 1


def _joined(body: list[str]) -> list[str]:
    """Commands with ``\\`` continuations joined."""
    out, cur = [], ""
    for line in body:
        if line.rstrip().endswith("\\"):
            cur += line.strip()[:-1].strip() + " "
            continue
        out.append((cur + line.strip()).strip())
        cur = ""
    return [c for c in out if c and not c.startswith("#")]


def parse(path: Path) -> list[Example]:
    """Every example of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = list(_blocks(lines))
    out = []
    for k, (start, lang, body, directive, end) in enumerate(blocks):
        mode, reason = ("fast", "") if directive is None else directive
        if any(line.startswith("$ ") for line in body):
            ex = Example(path, start, [], [], mode, reason)
            for line in body:
                if line.startswith("$ "):
                    ex.commands.append(line[2:].strip())
                    ex.expected.append(f"$ {line[2:].strip()}")
                else:
                    ex.expected.append(line)
            out.append(ex)
        elif lang in ("bash", "sh") and k + 1 < len(blocks):
            nstart, nlang, nbody, _, _ = blocks[k + 1]
            between = lines[end + 1:nstart - 1]
            cmds = _joined(body)
            if nlang in ("", "text", "console") and not any(x.strip() for x in between) \
                    and not any(x.startswith("$ ") for x in nbody) \
                    and cmds and all(c.split()[0] in ("dse", "python3") for c in cmds):
                ex = Example(path, start, cmds, list(nbody), mode, reason)
                out.append(ex)
    return out


def _argv(command: str) -> list[str]:
    words = shlex.split(command, comments=True)
    if words[0] == "dse":
        return [sys.executable, "-m", "dse", *words[1:]]
    if words[0] in ("python3", "python"):
        return [sys.executable, *words[1:]]
    raise ValueError(f"an example runs dse or python3, not {words[0]!r}")


def scratch() -> Path:
    """A scratch directory laid out like the repository (see the module docstring)."""
    d = Path(tempfile.mkdtemp(prefix="dse-examples-"))
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in ("studies", "docs"):
            continue
        (d / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "studies", d / "studies",
                    ignore=shutil.ignore_patterns("results"))
    (d / "docs").mkdir()
    for f in (ROOT / "docs").iterdir():
        (d / "docs" / f.name).symlink_to(f)
    if (ROOT / "docs" / "examples").is_dir():
        for f in (ROOT / "docs" / "examples").iterdir():
            shutil.copy(f, d / f.name)
    return d


def run(example: Example, cwd: Path) -> list[str]:
    """Run an example's commands in ``cwd``; the combined output as lines (each command's
    line ``$ command`` first when the example is in console style)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200", PYTHONUNBUFFERED="1")
    console = any(line.startswith("$ ") for line in example.expected)
    out: list[str] = []
    for command in example.commands:
        if console:
            out.append(f"$ {command}")
        proc = subprocess.run(_argv(command), cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
        for line in proc.stdout.splitlines():  # a terminal shows what follows the last \r
            shown = line.rsplit("\r", 1)[-1]
            if shown.strip() or "\r" not in line:
                out.append(shown)
    return out


def _clean(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines if line.strip()
            and not BAR.search(line) and not any(p.search(line) for p in DROPPED)]


def _line_matches(want: str, got: str) -> bool:
    parts = re.split(r"…|\.\.\.", want)
    if len(parts) == 1:
        return want == got
    return re.fullmatch(".*".join(re.escape(p) for p in parts), got) is not None


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` fits ``expected`` (see the module docstring)."""
    want, got = _clean(expected), _clean(actual)

    def fit(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(got)
        if want[i].strip() in ELLIPSIS:
            return any(fit(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and _line_matches(want[i], got[j]) and fit(i + 1, j + 1)

    return fit(0, 0)


def check(paths=DOCS, *, modes=("fast",), report=print) -> list[Example]:
    """Run the examples of ``paths`` in the given modes; returns the failed ones."""
    failed = []
    for path in paths:
        examples = [e for e in parse(Path(path)) if e.mode in modes]
        if not examples:
            continue
        cwd = scratch()
        try:
            for ex in examples:
                ex.outputs = run(ex, cwd)
                ok = matches(ex.expected, ex.outputs)
                report(f"{'ok  ' if ok else 'FAIL'} {ex.name}  {ex.commands[0]}")
                if not ok:
                    failed.append(ex)
                    report("\n".join(difflib.unified_diff(
                        _clean(ex.expected), _clean(ex.outputs), "docs", "now",
                        lineterm="")))
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
    return failed


def main(argv: list[str]) -> int:
    modes = ("fast", "heavy") if "--all" in argv else ("fast",)
    paths = [Path(a).resolve() for a in argv if not a.startswith("--")] or DOCS
    return 1 if check(paths, modes=modes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
