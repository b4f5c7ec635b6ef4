"""What a policy may know about early exits: prediction tables from a model's exit profile.

A policy never reads a request's actual exit; the exit-aware ``fluid`` policy predicts
from the *exit profile* (the share of requests leaving at each exit) instead.  These
tables are computed here once per (latency table, exit layers, profile), in numpy, and
handed to the kernel with the latency tables (``dse.sim._state.Tables``).

Exits are independent across requests (that is how traces draw them), so of ``n``
samples active at the start of layer ``l``, the number still active at layer ``j >= l``
is binomial, ``N_j ~ Bin(n, alive[j] / alive[l])``, where ``alive[j]`` is the share of
requests whose exit layer is ``>= j``.  Every expectation below is exact under that law.
Indices: ``l`` = layers already done (``0..L``), ``b`` = samples (``0..max_batch``).

* ``alive[l]``: share of fresh requests still active at the start of layer ``l``.
* ``erem[l, n]``: expected time (ms) to run layers ``l..L-1`` for ``n`` samples active at
  ``l`` (the batch shrinks as members exit).
* ``esum[l, n]``: expected member-ms of those layers, ``sum_j E[N_j ms[j, N_j]]`` (the
  latency the members accrue in total: each active member waits for each pass).
* ``epre[l, k]``: expected time of layers ``0..l-1`` for ``k`` fresh samples (a catch-up
  to a batch paused before layer ``l``); ``epsum[l, k]`` its expected sample-ms.
* ``whi[l, b]``: worst-case time of layers ``0..l-1`` for at most ``b`` samples,
  ``sum_j max_{b' <= b} ms[j, b']`` (no exits, and never faster for fewer samples).
"""

from __future__ import annotations

import functools
import math

import numpy as np

N_TABLES = 5  # erem, esum, epre, epsum, whi


def alive_shares(n_layers: int, exit_layers, profile) -> np.ndarray:
    """``alive[l]``, ``l = 0..n_layers``: share of requests whose exit layer is ``>= l``
    (``alive[0] = 1``, ``alive[n_layers] = 0``).  ``profile=None``: no early exits."""
    exl = np.asarray(exit_layers, dtype=np.int64)
    prof = (np.eye(len(exl))[-1] if profile is None
            else np.asarray(profile, dtype=np.float64))
    alive = np.array([prof[exl >= j].sum() for j in range(n_layers + 1)])
    return alive / alive[0]


@functools.lru_cache(maxsize=8)
def _comb(n_max: int) -> np.ndarray:
    """``comb[a, b] = C(a, b)`` for ``a, b = 0..n_max`` (zero above the diagonal)."""
    n = range(n_max + 1)
    comb = np.array([[math.comb(a, b) if b <= a else 0 for b in n] for a in n], float)
    comb.flags.writeable = False
    return comb


def _binomial(n_max: int, r: float) -> np.ndarray:
    """``pmf[n, N] = P(Bin(n, r) = N)`` for ``n, N = 0..n_max`` (zero above the diagonal)."""
    n = np.arange(n_max + 1)
    comb = _comb(n_max)
    with np.errstate(invalid="ignore"):
        up = np.power(r, n)[None, :]
        down = np.power(1.0 - r, np.clip(n[:, None] - n[None, :], 0, None))
    return comb * up * down


def predictions(ms: np.ndarray, exit_layers, profile) -> tuple[np.ndarray, np.ndarray]:
    """``(alive[L+1], tables[N_TABLES, L+1, B+1])`` for a latency table ``ms[L, B+1]``
    (ms per layer pass at batch ``b``, column 0 unused), in the order of the module
    docstring: ``erem, esum, epre, epsum, whi``."""
    return _cached(np.ascontiguousarray(ms, dtype=np.float64).tobytes(), ms.shape,
                   tuple(int(e) for e in exit_layers),
                   None if profile is None else tuple(float(p) for p in profile))


def expected_batch_ms(ms: np.ndarray, exit_layers, profile) -> np.ndarray:
    """``E[T(b)]``, ``b = 0..B``: expected time (ms) of a batch of ``b`` fresh samples run
    to completion while its members leave at their exits (``erem[0, b]``)."""
    return predictions(ms, exit_layers, profile)[1][0, 0].copy()


@functools.lru_cache(maxsize=512)
def _cached(raw: bytes, shape, exit_layers, profile):
    ms = np.frombuffer(raw, dtype=np.float64).reshape(shape)
    L, B1 = shape
    alive = alive_shares(L, exit_layers, profile)
    b = np.arange(B1, dtype=np.float64)
    pmfs: dict[float, np.ndarray] = {}

    def expect(rows, ratio):
        """(E[ms[j, N]], E[N ms[j, N]]) per row j of ``rows``, N ~ Bin(n, ratio[j])."""
        e_ms = np.empty((len(rows), B1))
        e_nms = np.empty((len(rows), B1))
        for i, (j, r) in enumerate(zip(rows, ratio, strict=True)):
            r = min(float(r), 1.0)
            if r not in pmfs:
                pmfs[r] = _binomial(B1 - 1, r)
            e_ms[i] = pmfs[r] @ ms[j]
            e_nms[i] = pmfs[r] @ (b * ms[j])
        return e_ms, e_nms

    out = np.zeros((N_TABLES, L + 1, B1))
    # members active at l: condition on alive[l] (one expectation table per distinct value)
    for a in np.unique(alive[:L]):
        ls = np.flatnonzero(alive[:L] == a)
        rows = np.arange(ls.min(), L)
        ratio = alive[rows] / a if a > 0 else np.ones(rows.size)  # impossible state: no exits
        e_ms, e_nms = expect(rows, ratio)
        suffix_ms = np.cumsum(e_ms[::-1], axis=0)[::-1]
        suffix_nms = np.cumsum(e_nms[::-1], axis=0)[::-1]
        out[0, ls] = suffix_ms[ls - rows[0]]
        out[1, ls] = suffix_nms[ls - rows[0]]
    # fresh samples (catch-up): condition on alive[0] = 1
    e_ms, e_nms = expect(np.arange(L), alive[:L])
    out[2, 1:] = np.cumsum(e_ms, axis=0)
    out[3, 1:] = np.cumsum(e_nms, axis=0)
    out[4, 1:] = np.cumsum(np.maximum.accumulate(ms, axis=1), axis=0)
    return alive, out
