import atexit
import os
import signal
import sys

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
