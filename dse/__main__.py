import signal
import sys

try:
    from dse.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python imports: no traceback either
    print("dse: interrupted", file=sys.stderr)
    sys.exit(130)

code = main()
signal.signal(signal.SIGINT, signal.SIG_IGN)  # exiting: a late Ctrl-C changes nothing
sys.exit(code)
