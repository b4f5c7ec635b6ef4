"""Building blocks several policies share (Numba, inlined into each policy's kernel)."""

from __future__ import annotations

from dse.sim._jit import njit
from dse.sim._state import (
    ACT_START,
    ACT_WAIT,
    CI_LAYER,
    CI_N,
    FV_NOW,
    INF,
    LT_CUM,
    MAIN,
    RF_DEADLINE,
    oldest_model,
    qlen,
)
from dse.sim.registry import Param

MAX_BATCH = Param("max_batch", "int", 8, 1, 64, False,
                  "largest batch (samples); capped at the design's max_batch")


@njit(cache=True, inline="always", _nrt=False)
def wait_forever():
    """Stay idle until the next arrival."""
    return ACT_WAIT, -1, 0, INF


@njit(cache=True, inline="always", _nrt=False)
def start_oldest(st, mb):
    """Start the oldest model's queue with up to ``mb`` samples (wait when all are empty)."""
    m = oldest_model(st)
    if m < 0:
        return wait_forever()
    return ACT_START, m, min(qlen(st, m), mb), 0.0


@njit(cache=True, inline="always", _nrt=False)
def remaining(tb, m, layer, n):
    """Worst-case time (ms) to run layers layer..L-1 at batch n (no exits assumed)."""
    last = tb.n_layers[m] - 1
    if layer == 0:
        return tb.lt[LT_CUM, m, last, n]
    return tb.lt[LT_CUM, m, last, n] - tb.lt[LT_CUM, m, layer - 1, n]


@njit(cache=True, inline="always", _nrt=False)
def admit(st, tb, c, m, kmax, slack):
    """Largest k <= kmax whose catch-up keeps every member on time (0: none).

    With ``k`` new samples, the batch (paused after layer l) finishes at the latest at
    ``f1 = now + cum[l, k] + (cum[L-1, n+k] - cum[l, n+k])``, which must stay
    ``<= min over members of (deadline - slack)`` (``lazy``).
    """
    now = st.fv[FV_NOW]
    n = st.ci[CI_N, c]
    l_done = st.ci[CI_LAYER, c] - 1
    last = tb.n_layers[m] - 1
    dmin = INF
    for j in range(n):
        d = st.rf[RF_DEADLINE, st.mem[MAIN, c, j]] - slack
        if d < dmin:
            dmin = d
    k = kmax
    while k >= 1:
        f1 = now + tb.lt[LT_CUM, m, l_done, k] + (tb.lt[LT_CUM, m, last, n + k] - tb.lt[LT_CUM, m, l_done, n + k])
        if f1 <= dmin:
            return k
        k -= 1
    return 0
