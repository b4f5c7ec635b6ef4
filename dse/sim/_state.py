"""Simulator state and tables as structure-of-arrays (Numba-friendly namedtuples).

All simulated times are in ms (float64).  The whole mutable state of a run lives in the
arrays of :class:`State`; the Numba step functions in ``_kernel`` mutate it in place, so a
run can be paused between two scheduling decisions and inspected from Python.

Indexing: ``M`` models, ``X`` executors, ``C = X * M`` batch contexts (context
``c = x * M + m`` is the open batch of model ``m`` on executor ``x``), ``Bmax`` the largest
batch in the latency tables, ``L`` the largest layer count over models.
"""

from __future__ import annotations

import math
from collections import namedtuple

from dse.sim._jit import MINUS_ONE, njit

INF = math.inf

# --- integer scalars State.iv -------------------------------------------------------
IV_NEXT_ARRIVAL = 0   # index of the next request to arrive
IV_DONE = 1           # 1 once the run is over
IV_DROPPED = 2        # requests dropped (queue cap or horizon)
IV_MAX_QLEN = 3       # longest model queue seen
IV_QLEN_LAST = 4      # total queued requests right after the last arrival
IV_STEPS = 5          # layer steps executed (main + catch-up)
IV_CATCHUPS = 6       # catch-up (refill) operations performed
IV_PREEMPTIONS = 7    # batches paused for another model (prema)
IV_QCAP = 8           # queue capacity per model (requests)
N_IV = 9
# --- float scalars State.fv ---------------------------------------------------------
FV_NOW = 0            # current simulated time (ms)
FV_HORIZON = 1        # end of simulated time (ms)
FV_PAST = 2           # the first time after the horizon, nextafter(FV_HORIZON) (ms)
N_FV = 3

# --- actions returned by a policy ---------------------------------------------------
ACT_CONTINUE = 0      # run the next layer of the running batch
ACT_CATCHUP = 1       # run k queued samples of the batch's model from layer 0 up to the
#                       batch's last completed layer, then merge them into the batch
ACT_START = 2         # open a new batch of model m with the k oldest queued samples
ACT_RESUME = 3        # resume the paused batch of model m on this executor
ACT_WAIT = 4          # stay idle until time w (ms) or the next arrival

N_POLICY_STATE = 8    # policy scratch floats per model, State.pst[m, :]

# --- rows of the packed state arrays (a few 2-D arrays rather than one array per field:
# Numba unboxes, types and passes every array of a namedtuple separately, so fewer arrays
# compile faster and copy less in calls LLVM does not inline) ----------------------------
# State.rf[RF_*, i]: per request i, float64
RF_ARRIVAL = 0        # arrival time (ms)
RF_DEADLINE = 1       # arrival + its stream's SLO (ms)
RF_START = 2          # first layer started (ms; NaN before)
RF_DONE = 3           # exit reached (ms; NaN before)
RF_ENERGY = 4         # energy of its passes (uJ)
RF_UTIL_MS = 5        # its share of ms x MAC utilisation (ms)
RF_BATCH_SUM = 6      # sum over its passes of the pass's batch size
N_RF = 7
# State.ri[RI_*, i]: per request i (and queue slot i), int64
RI_MODEL = 0          # model index
RI_EXITL = 1          # last layer it runs (its exit's layer)
RI_DROPPED = 2        # 1 if dropped (queue cap or horizon)
RI_QBUF = 3           # queue slots: model m owns qbuf[qoff[m]:qoff[m+1]]
N_RI = 4
# State.q[Q_*, m]: per model m, int64 (queue m holds slots qoff[m]+head .. qoff[m]+tail-1)
Q_HEAD = 0
Q_TAIL = 1
# State.ci[CI_*, c] (int64) and State.cf[CF_*, c] (float64): per batch context c, the
# main batch and its catch-up sub-batch (K)
CI_MODEL = 0          # model of the context (c % M)
CI_OPEN = 1           # 1 while the batch is running or paused
CI_KLAST = 2          # last layer the catch-up sub-batch runs before it merges
CI_LAYER = 3          # next layer of the main batch
CI_N = 4              # active samples of the main batch
CI_KLAYER = 5         # CI_LAYER, CI_N of the catch-up sub-batch: row + 2 x phase
CI_KN = 6
N_CI = 7
CF_T0 = 0             # time the batch started (ms)
CF_TP = 1             # time the batch was last paused (ms)
CF_CE = 2             # energy per sample summed over the main batch's passes (uJ)
CF_CU = 3             # ms x utilisation per sample summed likewise (ms)
CF_CB = 4             # batch sizes summed likewise
CF_KCE = 5            # CF_CE, CF_CU, CF_CB of the catch-up sub-batch: row + 3 x phase
CF_KCU = 6
CF_KCB = 7
N_CF = 8
# State.mem[phase, c, j]: request of member j; State.cnt[phase, c, l]: members whose
# exit is layer l; phase MAIN (the batch) or CATCHUP (its catch-up sub-batch)
MAIN = 0
CATCHUP = 1
# State.xi[XI_*, x] (int64) and State.xf[XF_*, x] (float64): per executor x
XI_CTX = 0            # batch context it runs (-1: idle)
XI_PHASE = 1          # MAIN or CATCHUP: the pass it runs
XI_BUSY = 2           # 1 while a layer step runs
XI_PEND = 3           # 1 when it must decide at the current time
N_XI = 4
XF_TEND = 0           # end of the running step (ms)
XF_WAKE = 1           # wake-up time of a wait (ms; inf: none)
N_XF = 2

State = namedtuple("State", [
    "iv", "fv",  # run scalars (IV_*, FV_*)
    "rf",        # [N_RF, N] per request, float
    "ri",        # [N_RI, N] per request, int (and the queue slots)
    "qoff",      # [M + 1] first queue slot of model m
    "q",         # [2, M] queue head and tail
    "ci", "cf",  # [N_CI, C], [N_CF, C] batch contexts
    "mem",       # [2, C, Bmax] members (main, catch-up)
    "cnt",       # [2, C, L] members per exit layer (main, catch-up)
    "xi", "xf",  # [N_XI, X], [N_XF, X] executors
    "pst",       # [M, N_POLICY_STATE] policy scratch
])

# --- rows of the packed tables --------------------------------------------------------
# Tables.lt[LT_*, m, l, b]: layer pass l of model m at batch b
# (the three rows a layer pass reads are 0, 1, 2: the kernel's pass loop addresses rows
# 1 and 2 as one row stride scaled by 1 and 2, which saves it a register)
LT_MS = 0             # latency of the pass (ms)
LT_EPS = 1            # energy of the pass / b: each sample's share (uJ)
LT_UPS = 2            # ms x MAC utilisation of the pass / b: each sample's share (ms)
LT_CUM = 3            # ms summed over layers 0..l at batch b (ms)
N_LT = 4
# Tables.pt[PT_*, m, l, b]: exit-profile predictions (dse.sim._predict), l = layers done
PT_EREM = 0           # expected ms of layers l.. for b samples active at l
PT_ESUM = 1           # expected member-ms of layers l.. (b active at l)
PT_EPRE = 2           # expected ms of layers 0..l-1 for b fresh samples
PT_EPSUM = 3          # expected sample-ms of layers 0..l-1 (b fresh)
PT_WHI = 4            # worst-case ms of layers 0..l-1 for at most b samples
# Tables.mf[MF_*, m]: per model, float64
MF_ISO_MS = 0         # isolated batch-1 latency to the last exit (ms)
MF_SLO = 1            # tightest SLO among the streams of the model (ms)

Tables = namedtuple("Tables", [
    "lt",        # [N_LT, M, L, Bmax+1] layer tables
    "pt",        # [5, M, L+1, Bmax+1] predictions (PT_*, in dse.sim._predict order)
    "alive",     # [M, L+1] share of fresh requests still active at the start of layer l
    "n_layers",  # [M] layer count
    "mf",        # [2, M] per-model floats
])


def make_tables(ms, energy, util, n_layers, model_slo, alive, pred) -> Tables:
    """Pack per-model tables (already padded to ``[M, L, Bmax+1]``; ``alive`` to
    ``[M, L+1]``, ``pred`` to ``[M, 5, L+1, Bmax+1]`` in ``dse.sim._predict`` order) for
    the kernel."""
    import numpy as np

    ms = np.asarray(ms, dtype=np.float64)
    cum = np.cumsum(ms, axis=1)
    n_layers = np.ascontiguousarray(n_layers, dtype=np.int64)
    iso = np.array([cum[m, n_layers[m] - 1, 1] for m in range(ms.shape[0])], dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    util = np.asarray(util, dtype=np.float64)
    b = np.arange(ms.shape[2], dtype=np.float64)
    b[0] = 1.0  # column 0 is never used
    lt = np.empty((N_LT,) + ms.shape)
    lt[LT_MS] = ms
    lt[LT_EPS] = energy / b
    lt[LT_UPS] = ms * util / b
    lt[LT_CUM] = cum
    pt = np.ascontiguousarray(np.moveaxis(np.asarray(pred, dtype=np.float64), 1, 0))
    mf = np.stack([iso, np.asarray(model_slo, dtype=np.float64)])
    return Tables(lt, pt, np.ascontiguousarray(alive, dtype=np.float64), n_layers, mf)


def make_state(arrival, deadline, rmodel, rexitl, n_models, n_executors, max_batch,
               max_layers, queue_cap, horizon_ms) -> State:
    """Fresh state for one run (nothing has arrived yet; time 0)."""
    import numpy as np

    n = arrival.shape[0]
    M, X = int(n_models), int(n_executors)
    C = X * M
    B, L = int(max_batch), int(max_layers)
    counts = np.bincount(rmodel, minlength=M)
    qoff = np.zeros(M + 1, dtype=np.int64)
    qoff[1:] = np.cumsum(counts)
    iv = np.zeros(N_IV, dtype=np.int64)
    iv[IV_QCAP] = int(queue_cap)
    fv = np.zeros(N_FV, dtype=np.float64)
    fv[FV_HORIZON] = float(horizon_ms)
    fv[FV_PAST] = np.nextafter(fv[FV_HORIZON], np.inf)  # t <= horizon iff t < FV_PAST
    rf = np.zeros((N_RF, n), dtype=np.float64)
    rf[RF_ARRIVAL] = arrival
    rf[RF_DEADLINE] = deadline
    rf[RF_START] = np.nan
    rf[RF_DONE] = np.nan
    ri = np.zeros((N_RI, n), dtype=np.int64)
    ri[RI_MODEL] = rmodel
    ri[RI_EXITL] = rexitl
    ci = np.zeros((N_CI, C), dtype=np.int64)
    ci[CI_MODEL] = np.tile(np.arange(M, dtype=np.int64), X)
    xi = np.zeros((N_XI, X), dtype=np.int64)
    xi[XI_CTX] = -1
    return State(iv, fv, rf, ri, qoff, np.zeros((2, M), dtype=np.int64), ci,
                 np.zeros((N_CF, C), dtype=np.float64),
                 np.zeros((2, C, B), dtype=np.int64), np.zeros((2, C, L), dtype=np.int64),
                 xi, np.full((N_XF, X), INF), np.zeros((M, N_POLICY_STATE), dtype=np.float64))


# --- small queries the policies use ---------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def qlen(st, m):
    """Queued requests of model m."""
    return st.q[Q_TAIL, m] - st.q[Q_HEAD, m]


@njit(cache=True, inline="always", _nrt=False)
def qpeek(st, m, j):
    """Request id of the j-th oldest queued request of model m."""
    return st.ri[RI_QBUF, st.qoff[m] + st.q[Q_HEAD, m] + j]


@njit(cache=True, inline="always", _nrt=False)
def oldest_model(st):
    """Model whose queue head arrived first (lowest index on ties), or -1 if all empty."""
    best = MINUS_ONE
    t = INF
    for m in range(st.q.shape[1]):
        if st.q[Q_TAIL, m] > st.q[Q_HEAD, m]:
            a = st.rf[RF_ARRIVAL, qpeek(st, m, 0)]
            if a < t:
                t = a
                best = m
    return best
