"""adaptive: Clipper-style AIMD batch size per model (Crankshaw et al., NSDI 2017)."""

from __future__ import annotations

from dse.sim._jit import njit
from dse.sim._state import (
    ACT_CONTINUE,
    ACT_START,
    CF_T0,
    CI_MODEL,
    MF_SLO,
    XI_CTX,
    oldest_model,
    qlen,
)
from dse.sim.policies._shared import MAX_BATCH, wait_forever
from dse.sim.registry import Param, Policy, always_continues, param_slots

PARAMS = (MAX_BATCH,
          Param("additive_step", "int", 1, 1, 8, False,
                "batch-size increase after an on-time batch (samples)"),
          Param("backoff", "float", 0.9, 0.1, 0.99, False,
                "multiplicative decrease after a late batch"),
          Param("slo_fraction", "float", 0.5, 0.05, 1.0, False,
                "batch latency target as a fraction of the model's SLO"))
P = param_slots(PARAMS)
CAP = 0  # policy scratch slot st.pst[m, CAP]: the model's current batch-size cap


@njit(cache=True, inline="always", _nrt=False)
def _cap(st, m):
    if st.pst[m, CAP] < 1.0:
        st.pst[m, CAP] = 1.0
    return int(st.pst[m, CAP])


@njit(cache=True, inline="always", _nrt=False)
def decide(st, tb, p, x, now):
    if st.xi[XI_CTX, x] >= 0:
        return ACT_CONTINUE, -1, 0, 0.0
    m = oldest_model(st)
    if m < 0:
        return wait_forever()
    return ACT_START, m, min(qlen(st, m), _cap(st, m)), 0.0


@njit(cache=True, inline="always", _nrt=False)
def on_batch_done(st, tb, p, c, now):
    """AIMD: grow the cap after an on-time batch, shrink it after a late one."""
    m = st.ci[CI_MODEL, c]
    cap = _cap(st, m)
    if now - st.cf[CF_T0, c] > p[P.slo_fraction] * tb.mf[MF_SLO, m]:
        cap = max(1, int(cap * p[P.backoff]))
    else:
        cap = min(int(p[P.max_batch]), cap + int(p[P.additive_step]))
    st.pst[m, CAP] = float(cap)


POLICY = Policy(
    "adaptive",
    "Clipper-style AIMD batch size per model: grow while batches finish within "
    "slo_fraction of the SLO, back off multiplicatively otherwise", PARAMS, decide,
    continues_at=always_continues, on_batch_done=on_batch_done)
