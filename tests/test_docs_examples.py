"""The console examples of README.md and docs/*.md, run and compared (docs/examples.py):
a changed number fails here instead of misleading users."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
import examples  # noqa: E402

DOCS = [p for p in examples.DOCS if examples.parse(p)]


def _name(p: Path) -> str:
    return str(p.relative_to(examples.ROOT))


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_fast_examples(path):
    lines = []
    failed = examples.check([path], modes=("fast",), report=lines.append)
    assert not failed, "\n".join(lines)


@pytest.mark.heavy
@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_heavy_examples(path):
    """Examples that run studies (the quickstart, the smart-home question)."""
    lines = []
    failed = examples.check([path], modes=("fast", "heavy"), report=lines.append)
    assert not failed, "\n".join(lines)


def test_matching_rules():
    m = examples.matches
    assert m(["a 1", "…", "z"], ["a 1", "b", "c", "z"])
    assert m(["a 1", "...", "z"], ["a 1", "z"])
    assert m(["took … ms (... req/s)"], ["took 4.2 ms (1,000 req/s)"])
    assert not m(["value 0.605"], ["value 0.606"])  # numbers are checked
    assert not m(["a", "b"], ["a"])
    bar = "quickstart: 100%|██████████| 60/60 [00:05<00:00, 10.09trial/s]"
    assert m(["done"], [bar, "dse: compiling kernels (policy fluid; ~35 s) ...", "done"])


def test_every_example_block_is_found(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("text\n```bash\ndse metrics \\\n  --json\n```\n```\n[\n```\n\n"
                   "<!-- example: skip measured -->\n```text\n$ dse samplers\nx\n```\n"
                   "```console\n$ dse policies\n$ dse metrics\n```\n")
    found = examples.parse(doc)
    assert [(e.commands, e.mode) for e in found] == [
        (["dse metrics --json"], "fast"), (["dse samplers"], "skip"),
        (["dse policies", "dse metrics"], "fast")]
    assert found[0].expected == ["["]
