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

# Adding a command group is one module and one line here: module -> the commands it adds.
COMMAND_MODULES = {
    "dse.cli.cost": ("cost",),
    "dse.cli.workloads": ("workloads",),  # dse workloads [show NAME | arrivals | trace FILE]
    "dse.cli.sim": ("simulate", "policies"),
    "dse.cli.compare": ("compare",),
    "dse.cli.reproduce": ("reproduce",),
    "dse.cli.study": ("run", "worker", "status", "metrics", "samplers"),
    "dse.cli.report": ("dashboard", "export", "evaluate"),
    "dse.cli.rl": ("rl",),                # dse rl train, dse rl eval (extra 'rl')
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line in words with exit code 2, and
    takes no abbreviated flags (``--n-trial`` is an error, not ``--n-trials``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        from dse.cli._common import usage_message

        raise InputError(usage_message(message), source=self.prog)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``dse`` parser: every command group, or only the group that adds ``command``
    when it names one (building every group's ~20 subparsers costs about as much as the
    rest of an input error's start-up)."""
    parser = _Parser(prog="dse", description="Design-space exploration of fluid-batching "
                     "edge NPUs serving early-exit DNNs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--max-memory", metavar="GIB",
                        type=positive_float("a positive number of GiB"),
                        help="memory budget for traces, tables and studies (default: 80%% "
                             f"of this machine's memory; env {ENV_MEMORY})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    groups = [m for m, commands in COMMAND_MODULES.items() if command in commands]
    for name in groups or COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        # `dse COMMAND ...` parses as with every group: a first argument that names a
        # command is the subparser that takes the rest (help, top-level flags first or an
        # unknown command build the full parser)
        parser = build_parser(argv[0] if argv else None)
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
