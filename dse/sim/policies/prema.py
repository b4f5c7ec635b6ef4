"""prema: PREMA token-based preemptive multi-DNN scheduling (Choi & Rhu, HPCA 2020), our
reconstruction: at layer boundaries, among batches whose normalised wait reaches the
threshold, the one with the shortest remaining work runs (preempting the current one)."""

from __future__ import annotations

from dse.sim._jit import MINUS_ONE, ZERO, njit
from dse.sim._state import (
    ACT_CONTINUE,
    ACT_RESUME,
    ACT_START,
    CF_TP,
    CI_LAYER,
    CI_MODEL,
    CI_N,
    CI_OPEN,
    INF,
    LT_CUM,
    MF_ISO_MS,
    RF_ARRIVAL,
    XI_CTX,
    qlen,
    qpeek,
)
from dse.sim.policies._shared import MAX_BATCH, remaining, wait_forever
from dse.sim.registry import Param, Policy, param_slots

PARAMS = (MAX_BATCH,
          Param("token_threshold", "float", 1.0, 0.0, 20.0, False,
                "normalized wait (ms / isolated ms) that makes a batch eligible"))
P = param_slots(PARAMS)


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    mb = int(p[P.max_batch])
    thr = p[P.token_threshold]
    M = tb.lt.shape[1]
    cur = st.xi[XI_CTX, x]
    b_act = MINUS_ONE
    b_m = MINUS_ONE
    b_k = ZERO
    b_est = INF
    if cur >= 0:
        m = st.ci[CI_MODEL, cur]
        b_act = ACT_CONTINUE
        b_est = remaining(tb, m, st.ci[CI_LAYER, cur], st.ci[CI_N, cur])
    for m in range(M):  # paused batches
        c = x * M + m
        if st.ci[CI_OPEN, c] and c != cur and (now - st.cf[CF_TP, c]) / tb.mf[MF_ISO_MS, m] >= thr:
            est = remaining(tb, m, st.ci[CI_LAYER, c], st.ci[CI_N, c])
            if est < b_est:
                b_act, b_m, b_k, b_est = ACT_RESUME, m, 0, est
    for m in range(M):  # new batches
        c = x * M + m
        q = qlen(st, m)
        if st.ci[CI_OPEN, c] == 0 and q > 0:
            if (now - st.rf[RF_ARRIVAL, qpeek(st, m, 0)]) / tb.mf[MF_ISO_MS, m] >= thr:
                k = min(q, mb)
                est = tb.lt[LT_CUM, m, tb.n_layers[m] - 1, k]
                if est < b_est:
                    b_act, b_m, b_k, b_est = ACT_START, m, k, est
    if b_act >= 0:
        return b_act, b_m, b_k, 0.0
    # idle and nothing has enough tokens yet: serve the largest token (never idle w/ work)
    b_tok = -INF
    for m in range(M):
        c = x * M + m
        if st.ci[CI_OPEN, c]:
            tok = (now - st.cf[CF_TP, c]) / tb.mf[MF_ISO_MS, m]
            if tok > b_tok:
                b_act, b_m, b_k, b_tok = ACT_RESUME, m, 0, tok
    for m in range(M):
        c = x * M + m
        q = qlen(st, m)
        if st.ci[CI_OPEN, c] == 0 and q > 0:
            tok = (now - st.rf[RF_ARRIVAL, qpeek(st, m, 0)]) / tb.mf[MF_ISO_MS, m]
            if tok > b_tok:
                b_act, b_m, b_k, b_tok = ACT_START, m, min(q, mb), tok
    if b_act >= 0:
        return b_act, b_m, b_k, 0.0
    return wait_forever()


@njit(cache=True, inline="always", _nrt=False)
def continues_at(st, tb, p, x, c, m, layer, n):
    """Nothing else could be chosen: no other open batch here, no startable queue."""
    M = tb.lt.shape[1]
    for mm in range(M):
        cc = x * M + mm
        if cc != c and (st.ci[CI_OPEN, cc] or qlen(st, mm) > 0):
            return False
    return True


POLICY = Policy(
    "prema",
    "PREMA: token-based preemptive multi-DNN scheduling at layer boundaries; among "
    "batches whose normalized wait reaches the threshold, the shortest remaining runs",
    PARAMS, decide, continues_at=continues_at, reconstruction=True)
