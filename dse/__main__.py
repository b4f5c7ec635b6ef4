import atexit
import os
import signal
import sys


def _quiet_interrupts(hook=sys.unraisablehook):
    """A Ctrl-C that lands in a callback Python cannot raise from (an import lock's, a
    finaliser's) is reported as "Exception ignored ... Traceback"; the run already stops
    on the interrupt, so that report is noise."""

    def unraisable(info):
        if not isinstance(info.exc_value, KeyboardInterrupt):
            hook(info)

    sys.unraisablehook = unraisable


_quiet_interrupts()  # first, before the imports a Ctrl-C may land in
try:
    from dse.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python imports: no traceback either
    print("dse: interrupted", file=sys.stderr)
    sys.exit(130)

code = main()
signal.signal(signal.SIGINT, signal.SIG_IGN)  # exiting: a late Ctrl-C changes nothing
if code == 130:
    # An interrupted run caught its KeyboardInterrupt, but if it landed while Python ran
    # code given as a string (exec), the interpreter still counts it as unhandled and its
    # normal exit would kill the process with SIGINT instead of exiting with 130.
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)
sys.exit(code)
