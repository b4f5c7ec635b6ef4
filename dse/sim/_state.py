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

from dse.sim._jit import njit

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
N_FV = 2

# --- actions returned by a policy ---------------------------------------------------
ACT_CONTINUE = 0      # run the next layer of the running batch
ACT_CATCHUP = 1       # run k queued samples of the batch's model from layer 0 up to the
#                       batch's last completed layer, then merge them into the batch
ACT_START = 2         # open a new batch of model m with the k oldest queued samples
ACT_RESUME = 3        # resume the paused batch of model m on this executor
ACT_WAIT = 4          # stay idle until time w (ms) or the next arrival

N_POLICY_STATE = 8    # policy scratch floats per model, State.pst[m, :]

State = namedtuple("State", [
    "iv", "fv",
    # per request (N)
    "arrival", "deadline", "rmodel", "rexitl", "start", "done", "dropped",
    "energy", "util_ms", "batch_sum",
    # queues: flat buffer, model m owns qbuf[qoff[m]:qoff[m+1]]
    "qbuf", "qoff", "qhead", "qtail",
    # batch contexts (C); main batch and catch-up sub-batch
    "c_model", "c_open", "c_layer", "c_n", "c_mem", "c_cnt", "c_ce", "c_cu", "c_cb", "c_t0", "c_tp",
    "k_n", "k_mem", "k_cnt", "k_layer", "k_last", "k_ce", "k_cu", "k_cb",
    # executors (X)
    "x_ctx", "x_phase", "x_busy", "x_tend", "x_wake", "x_pend",
    # policy scratch
    "pst",
])

Tables = namedtuple("Tables", [
    "ms",        # [M, L, Bmax+1] latency of one layer pass at batch b (ms)
    "cum",       # [M, L, Bmax+1] ms summed over layers 0..l at batch b (ms)
    "energy",    # [M, L, Bmax+1] energy of one layer pass of the whole batch (uJ)
    "util",      # [M, L, Bmax+1] MAC utilisation of that pass (0..1)
    "n_layers",  # [M] layer count
    "iso_ms",    # [M] isolated batch-1 latency to the last exit (ms)
    "model_slo", # [M] tightest SLO among the streams of the model (ms)
    "e_ps",      # [M, L, Bmax+1] energy / b: each sample's share of a pass (uJ)
    "u_ps",      # [M, L, Bmax+1] ms x utilisation / b: each sample's share (ms)
    # exit-profile predictions (dse.sim._predict), index l = layers done (0..L)
    "alive",     # [M, L+1] share of fresh requests still active at the start of layer l
    "erem",      # [M, L+1, Bmax+1] expected ms of layers l.. for n samples active at l
    "esum",      # [M, L+1, Bmax+1] expected member-ms of layers l.. (n active at l)
    "epre",      # [M, L+1, Bmax+1] expected ms of layers 0..l-1 for k fresh samples
    "epsum",     # [M, L+1, Bmax+1] expected sample-ms of layers 0..l-1 (k fresh)
    "whi",       # [M, L+1, Bmax+1] worst-case ms of layers 0..l-1 for at most b samples
])


def make_tables(ms, energy, util, n_layers, model_slo, alive, pred) -> Tables:
    """Pack per-model tables (already padded to ``[M, L, Bmax+1]``; ``alive`` to
    ``[M, L+1]``, ``pred`` to ``[M, 5, L+1, Bmax+1]`` in ``dse.sim._predict`` order) for
    the kernel."""
    import numpy as np

    ms = np.ascontiguousarray(ms, dtype=np.float64)
    cum = np.cumsum(ms, axis=1)
    n_layers = np.ascontiguousarray(n_layers, dtype=np.int64)
    iso = np.array([cum[m, n_layers[m] - 1, 1] for m in range(ms.shape[0])], dtype=np.float64)
    energy = np.ascontiguousarray(energy, dtype=np.float64)
    util = np.ascontiguousarray(util, dtype=np.float64)
    b = np.arange(ms.shape[2], dtype=np.float64)
    b[0] = 1.0  # column 0 is never used
    return Tables(ms, cum, energy, util, n_layers, iso,
                  np.ascontiguousarray(model_slo, dtype=np.float64),
                  np.ascontiguousarray(energy / b), np.ascontiguousarray(ms * util / b),
                  np.ascontiguousarray(alive, dtype=np.float64),
                  *(np.ascontiguousarray(pred[:, i], dtype=np.float64) for i in range(5)))


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
    f0 = lambda k: np.zeros(k, dtype=np.float64)  # noqa: E731
    i0 = lambda *k: np.zeros(k, dtype=np.int64)  # noqa: E731
    return State(
        iv, fv,
        np.ascontiguousarray(arrival, dtype=np.float64),
        np.ascontiguousarray(deadline, dtype=np.float64),
        np.ascontiguousarray(rmodel, dtype=np.int64),
        np.ascontiguousarray(rexitl, dtype=np.int64),
        np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.int64),
        f0(n), f0(n), f0(n),
        np.zeros(n, dtype=np.int64), qoff, i0(M), i0(M),
        np.tile(np.arange(M, dtype=np.int64), X), i0(C), i0(C), i0(C), i0(C, B), i0(C, L), f0(C), f0(C), f0(C), f0(C), f0(C),
        i0(C), i0(C, B), i0(C, L), i0(C), i0(C), f0(C), f0(C), f0(C),
        np.full(X, -1, dtype=np.int64), i0(X), i0(X), np.full(X, INF), np.full(X, INF), i0(X),
        np.zeros((M, N_POLICY_STATE), dtype=np.float64),
    )


# --- small queries the policies use ---------------------------------------------------

@njit(cache=True, inline="always", _nrt=False)
def qlen(st, m):
    """Queued requests of model m."""
    return st.qtail[m] - st.qhead[m]


@njit(cache=True, inline="always", _nrt=False)
def qpeek(st, m, j):
    """Request id of the j-th oldest queued request of model m."""
    return st.qbuf[st.qoff[m] + st.qhead[m] + j]


@njit(cache=True, inline="always", _nrt=False)
def oldest_model(st):
    """Model whose queue head arrived first (lowest index on ties), or -1 if all empty."""
    best = -1
    t = INF
    for m in range(st.qhead.shape[0]):
        if st.qtail[m] > st.qhead[m]:
            a = st.arrival[qpeek(st, m, 0)]
            if a < t:
                t = a
                best = m
    return best
