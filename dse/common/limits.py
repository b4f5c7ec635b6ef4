"""Physical and representable bounds shared by every input, and the memory budget.

Bounds come from what a real workload can be and from what the arithmetic holds:

* ``MAX_SEED`` = 2^32 - 1: the seed is handed to Optuna's samplers, which take 32-bit
  seeds (``seed + replication`` must fit too, see :func:`check_seed`).
* ``MAX_REQUESTS`` = 10^9 requests per trace: request indices are int32 in the
  simulator; the memory budget usually refuses far fewer.
* ``MIN_RATE_RPS``..``MAX_RATE_RPS`` = 1e-3..1e7 requests/s per stream (one request in
  17 minutes to ten million a second).
* ``MAX_TIME_MS`` = 1e11 ms (3.2 years) of simulated time, and any duration or time
  parameter: float64 times up to 1e11 ms keep a resolution of 15 ns, so latencies of
  microseconds stay exact to three digits; further out they round to zero.
* ``MIN_DURATION_MS`` = 1e-3 ms (1 us): the shortest burst, spike or period a
  process may declare (shorter ones would only multiply the draws).

The memory budget (:func:`check_memory`) is 80% of the machine's physical memory unless
the environment variable ``DSE_MAX_MEMORY_GIB`` says otherwise (``dse --max-memory GIB``
sets it for a command and the worker processes it starts).
"""

from __future__ import annotations

import os

from dse.common.checks import check_int
from dse.common.errors import InputError

MAX_SEED = (1 << 32) - 1
MAX_REQUESTS = 10**9
MIN_RATE_RPS, MAX_RATE_RPS = 1e-3, 1e7
MAX_TIME_MS = 1e11
MIN_DURATION_MS = 1e-3
#: Memory one simulated request needs at peak (bytes): the trace arrays (28 bytes),
#: the simulator's per-request records and the metrics' sorted copies; measured ~62 bytes
#: resident per request for one stream (RSS of ``dse simulate`` at 1e5 vs 2e6 requests),
#: rounded up for transient copies while sorting and several streams.
BYTES_PER_REQUEST = 200
ENV_MEMORY = "DSE_MAX_MEMORY_GIB"


def memory_limit() -> int:
    """The memory budget in bytes: ``DSE_MAX_MEMORY_GIB`` if set, else 80% of RAM."""
    text = os.environ.get(ENV_MEMORY)
    if text:
        try:
            gib = float(text)
        except ValueError:
            gib = -1.0
        if not 0 < gib < 1e9:
            raise InputError(f"expected a positive number of GiB, got {text!r}",
                             source="environment", field=ENV_MEMORY)
        return int(gib * 2**30)
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(0.8 * total)


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def check_memory(nbytes: float, what: str, *, source: str | None = None,
                 field: str | None = None) -> None:
    """Refuse (InputError) work whose estimated memory ``nbytes`` exceeds the budget."""
    limit = memory_limit()
    if nbytes > limit:
        raise InputError(f"{what} needs ~{_gib(nbytes)} of memory, more than the limit "
                         f"{_gib(limit)} (raise it with dse --max-memory GIB)",
                         source=source, field=field)


def check_seed(value, *, source: str | None = None, field: str | None = None,
               span: int = 1) -> int:
    """A seed in 0..2^32-1 such that ``seed + span - 1`` is one too."""
    high = MAX_SEED - (span - 1)
    return check_int(value, source=source, field=field, low=0, high=high,
                     allowed=f"0..{high}")


def check_requests(value, *, source: str | None = None, field: str | None = None,
                   low: int = 1) -> int:
    """A request count in ``low``..10^9 whose trace fits the memory budget."""
    n = check_int(value, source=source, field=field, low=low, high=MAX_REQUESTS,
                  allowed=f"{low}..{MAX_REQUESTS}")
    check_memory(n * BYTES_PER_REQUEST, f"a trace of {n} requests",
                 source=source, field=field)
    return n
