"""Helpers every command group shares: argument types, output and flag names."""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import contextmanager

from dse.common import InputError


def int_at_least(low: int, what: str | None = None, high: int | None = None):
    """argparse type: an integer >= ``low`` (and <= ``high``); errors read ``--x must be
    a positive integer, got -5`` (``what``: the words, default from the bounds)."""
    if high is not None:
        what = what or f"an integer in {low}..{high}"
    what = what or ("a positive integer" if low == 1 else f"an integer >= {low}")

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got '{text}'") from None
        if v < low or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"must be {what}, got {v}")
        return v
    return parse


def positive_float(what: str):
    """argparse type: a finite number > 0 (``what``: e.g. "a positive number of seconds")."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got '{text}'") from None
        if not (v > 0 and math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return v
    return parse


_BUILTIN = {"int": "an integer", "float": "a number"}


class Deferred:
    """A default shown in ``--help`` whose text needs a heavy import: ``str()`` computes
    it, so building the parser imports nothing (``dse --help`` starts in milliseconds)."""

    def __init__(self, text):
        self._text = text

    def __str__(self) -> str:
        return self._text()


def usage_message(message: str) -> str:
    """An argparse error in words: ``argument --n-trials: must be ..., got -5`` becomes
    ``--n-trials must be ..., got -5``; a builtin type's ``invalid int value: 'x'``
    becomes ``must be an integer, got 'x'`` (never a function name)."""
    import re

    m = re.match(r"argument ([^:]+): (.*)$", message, re.S)
    if m is None:
        return message
    flag, rest = m.group(1).split("/")[-1], m.group(2)
    bad = re.match(r"invalid (\S+) value: (.*)$", rest, re.S)
    if bad is not None:
        kind = _BUILTIN.get(bad.group(1), "a valid value")
        return f"{flag} must be {kind}, got {bad.group(2)}"
    if rest.startswith(("must be", "expected")):
        return f"{flag} {rest}"
    return f"{flag}: {rest}"


@contextmanager
def flags(**names):
    """Name library parameters as the command's flags in errors, e.g.
    ``with flags(out="--out"):`` turns field ``out`` into ``--out``."""
    try:
        yield
    except InputError as exc:
        if exc.field in names:
            raise exc.renamed(names[exc.field]) from None
        raise


def json_safe(obj):
    """A JSON-ready copy: non-finite floats become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def print_json(obj, **options) -> None:
    """Print ``obj`` as JSON (``options``: of ``json.dumps``); ``json`` loads here, so that
    building the parser and an input error import none of the output's modules."""
    import json

    print(json.dumps(obj, **options))


def fmt(value, spec: str = ".6g") -> str:
    """A table cell: yes/no for booleans, "-" for non-finite numbers."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return format(value, spec)


def warn(messages) -> None:
    for m in messages:
        print(f"dse: warning: {m}", file=sys.stderr)


class Steps:
    """A step that may take more than 2 seconds: one line on stderr says what runs, then
    (on a terminal) a bar follows ``update(done, total)``.  Use as a context manager."""

    def __init__(self, what: str, unit: str = "step"):
        self.what, self.unit, self.bar = what, unit, None

    def __enter__(self):
        print(f"dse: {self.what} ...", file=sys.stderr, flush=True)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.what.split(" (")[0], unit=self.unit,
                            file=sys.stderr, leave=False, dynamic_ncols=True)
        if self.bar is not None:
            self.bar.total, self.bar.n = total, done
            self.bar.refresh()

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False


#: Seconds a cold compile takes on a 2-core machine, rounded up (``bench_trials.py``'s
#: compile rows, an empty NUMBA_CACHE_DIR: the cost-model kernels 7-11 s, the first
#: policy's simulator kernel 7-12 s, a further policy's 5-10 s).
COMPILE_S = {"cost": 10, "policy": 12}


@contextmanager
def _interruptible_compile():
    """Ctrl-C during a compile is a KeyboardInterrupt, whatever Numba makes of it: a
    KeyboardInterrupt raised deep inside Numba's compiler can leave the function being
    compiled half-built and surface as another error (seen: "no compiled object yet"
    while caching it), or be swallowed.  Numba writes cache files atomically, so nothing
    stale is left."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield  # Ctrl-C is ignored or handled elsewhere here
        return
    hit = []

    def interrupt(signum, frame):
        hit.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
        if hit:  # the interrupt was swallowed on the way
            raise KeyboardInterrupt
    except Exception:
        if hit:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def prepare_kernels(policies=(), *, cost: bool = True) -> None:
    """Compile the kernels a command is about to use that are neither compiled nor in
    Numba's cache, saying so first ("compiling kernels (first run only, ~N s)"), so
    that no first run looks hung; with everything cached this is a no-op."""
    from cost_models import kernels_ready
    from dse.sim import kernel_ready, warm

    cold_cost = cost and not kernels_ready()
    cold = [p for p in dict.fromkeys(policies) if not kernel_ready(p)]
    if not cold_cost and not cold:
        return
    secs = COMPILE_S["cost"] * cold_cost + COMPILE_S["policy"] * len(cold)
    names = (["cost model"] if cold_cost else []) + [f"policy {p}" for p in cold]
    with Steps(f"compiling kernels ({', '.join(names)}; first run only, ~{secs} s)",
               unit="kernel") as bar, _interruptible_compile():
        if cold_cost:
            from cost_models import NpuDesign, fc, latency_table

            latency_table(NpuDesign(), [fc("warm", 8, 8)])
            bar(1, len(names))
        for i, p in enumerate(cold):
            warm(p)
            bar(cold_cost + i + 1, len(names))
