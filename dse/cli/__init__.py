"""The ``dse`` command, the app layer: one entry point, one module per command group.

Each command module exposes ``register(subparsers)``, which adds its subcommands and sets
``func`` (``args -> int`` exit code) on each parser.  Command modules parse arguments,
call the library and print; they hold no experiment, figure or search logic.  User
mistakes (:class:`InputError`) print one line and exit 2; runtime failures
(:class:`RunError`) print one line and exit 1; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from dse.cli._common import positive_float
from dse.common import InputError, RunError
from dse.common.limits import ENV_MEMORY

# Adding a command group is one module and one line here.
COMMAND_MODULES = (
    "dse.cli.cost",       # dse cost
    "dse.cli.workloads",  # dse workloads [show NAME | arrivals | trace FILE]
    "dse.cli.sim",        # dse simulate, dse policies
    "dse.cli.compare",    # dse compare
    "dse.cli.reproduce",  # dse reproduce
    "dse.cli.study",      # dse run, dse worker, dse status, dse metrics, dse samplers
    "dse.cli.report",     # dse dashboard, dse export, dse evaluate
    "dse.cli.rl",         # dse rl train, dse rl eval (extra 'rl')
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line in words with exit code 2, and
    takes no abbreviated flags (``--n-trial`` is an error, not ``--n-trials``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        from dse.cli._common import usage_message

        raise InputError(usage_message(message), source=self.prog)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dse", description="Design-space exploration of fluid-batching "
                     "edge NPUs serving early-exit DNNs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--max-memory", metavar="GIB",
                        type=positive_float("a positive number of GiB"),
                        help="memory budget for traces, tables and studies (default: 80%% "
                             f"of this machine's memory; env {ENV_MEMORY})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.max_memory is not None:  # worker processes inherit it
            os.environ[ENV_MEMORY] = repr(args.max_memory)
        if args.version:
            from dse import __version__

            print(__version__)
            return 0
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except InputError as exc:
        if debug:
            raise
        print(f"dse: error: {exc}", file=sys.stderr)
        return 2
    except RunError as exc:
        if debug:
            raise
        print(f"dse: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # exiting: a further Ctrl-C changes nothing
        print("dse: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
