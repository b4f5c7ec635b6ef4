"""Numba kernels of the latency / traffic / energy model (see docs/cost_model.md).

Plain functions over numpy arrays and scalars; no Python objects.  Units: cycles,
bytes, pJ.  Batching codes: 0 none, 1 r, 2 p, 3 fluid.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BATCH_NONE, BATCH_R, BATCH_P, BATCH_FLUID = 0, 1, 2, 3


@njit(cache=True)
def _cdiv(a, b):
    return (a + b - 1) // b


@njit(cache=True)
def _clog2(x):
    n = 0
    v = 1
    while v < x:
        v *= 2
        n += 1
    return n


@njit(cache=True)
def _weight_tiles(p, c, g, k, b_p, t_c, t_p, systolic):
    """(group, column, reduction) tile counts of one pass on the k-stacked array.

    N = T_C/k PEs of width W = k*T_P.  adder_tree places floor(N / C) groups side by
    side across the PEs when C < N (block-diagonal); systolic runs the groups one after
    the other, as SCALE-Sim does.  With b_p > 1 there is one reduction tile.
    """
    width = k * t_p
    n_pe = t_c // k
    p_tiles = 1 if b_p > 1 else _cdiv(p, width)
    c_tiles = _cdiv(c, n_pe)
    g_tiles = g if systolic else _cdiv(g, max(1, n_pe // c))
    return g_tiles, c_tiles, p_tiles


@njit(cache=True)
def pass_compute_cycles(rows, p, c, g, k, b_p, t_c, t_p, t_r, systolic, shared=True):
    """Compute cycles of one array pass over ``rows`` stacked rows (all G groups).

    adder_tree: k-stacked array of T_C/k PEs, each a k*T_P-wide dot product, one input
    row per cycle.  A PE loads one weight per cycle, so a weight tile whose reduction
    extent is p_t lanes (per sample) loads in L = min(p_t, T_P) cycles, double-buffered
    behind the rows of the previous tile: each tile costs max(rows in tile, L of the
    next tile).  When the reduction fits one tile, each weight tile stays put while all
    ``rows`` stream past it; otherwise partial sums live in the T_R x T_C output tile,
    so the loop is row tiles (ceil(rows / T_R), split evenly) > weight tiles.  Summed
    over the tile sequence: sum max(rows_t, L_t) + min(L_first, rows_last) (the exposed
    first load, and the last tile with nothing left to load) + the adder-tree +
    accumulator pipeline depth.
    Groups with fewer output channels than PEs sit side by side (see ``_weight_tiles``);
    each group's PEs then get their own input row.
    systolic: SCALE-Sim weight-stationary timing on a (k*T_P) x (T_C/k) array: each
    fold costs 2*H + W + rows - 2 (weight load H, skewed stream, drain W - 1).
    With b_p > 1 the b_p samples sit side by side in one dot product (segmented
    reduction; requires b_p * p <= k*T_P).  Shared weights are loaded once and wired to
    the b_p segments; an unshared second operand (attention) loads all b_p segments.
    """
    g_tiles, c_tiles, p_tiles = _weight_tiles(p, c, g, k, b_p, t_c, t_p, systolic)
    width = k * t_p
    if systolic:
        return g_tiles * c_tiles * p_tiles * (2 * width + t_c // k + rows - 2)
    seg = 1 if shared else b_p  # segments whose weights are loaded, not wired
    load_last = min(seg * p - (p_tiles - 1) * width, t_p)  # the last (or only) tile
    load_first = t_p if p_tiles > 1 else load_last
    # Row tiles: one of all rows (weight-stationary), else ceil(rows / T_R) tiles split
    # evenly (``big`` of them one row longer), the shortest last.
    n_rt = 1 if p_tiles == 1 else _cdiv(rows, t_r)
    r_last = rows // n_rt
    big = rows - r_last * n_rt
    per_short = (p_tiles - 1) * max(r_last, t_p) + max(r_last, load_last)
    per_long = (p_tiles - 1) * max(r_last + 1, t_p) + max(r_last + 1, load_last)
    row_sum = big * per_long + (n_rt - big) * per_short
    return g_tiles * c_tiles * row_sum + min(load_first, r_last) + _clog2(width) + 1


@njit(cache=True)
def _weight_reads(rows, t_r, p_tiles, systolic):
    """How often a pass reads each weight from the weight SRAM."""
    if systolic or p_tiles == 1:
        return 1
    return _cdiv(rows, t_r)


@njit(cache=True)
def dram_bytes(L, b, passes, bpe, w_sram, act_half):
    """DRAM bytes of a layer step of batch ``b`` run in ``passes`` passes.

    Shared weights are fetched once per step if they fit the weight SRAM, else streamed
    in weight-SRAM-sized chunks once per pass.  The batch's input (and the per-sample
    second operand of an unshared matmul) is read from DRAM when it exceeds half the
    activation SRAM: once per weight chunk of a group, because a group's input is only
    needed while that group's weights are resident (a dense layer is one group, so once
    per chunk).  The output is written out likewise, once.  The bytes do not depend on
    whether the groups run serially or side by side.
    """
    w_bytes = L[5] * bpe
    in_bytes = L[4] * bpe
    out_bytes = L[7] * bpe
    rereads = 1
    if L[6] != 0:
        if w_bytes <= w_sram:
            w_dram = w_bytes
        else:
            w_dram = w_bytes * passes
            rereads = _cdiv(_cdiv(w_bytes, L[3]), w_sram)
    else:
        w_dram = 0
        in_bytes += w_bytes
    dram = w_dram
    if b * in_bytes > act_half:
        dram += b * in_bytes * rereads
    if b * out_bytes > act_half:
        dram += b * out_bytes
    return dram


@njit(cache=True)
def _energy_pj(L, b, k, b_p, b_r, passes, dram, t_c, t_p, t_r, systolic, bpe, acc_bytes,
               e_mac, e_w, e_a, e_o, e_dram):
    r = L[0]
    p = L[1]
    c = L[2]
    g = L[3]
    rows = b_r * r
    _, c_tiles, p_tiles = _weight_tiles(p, c, g, k, b_p, t_c, t_p, systolic)
    # Bytes moved per pass: weights once per weight-tile visit (``_weight_reads``;
    # replicas for the b_p segments are wired, not re-read), inputs once per column tile,
    # partial sums written once and read back for every reduction tile but the first.
    # Block-diagonal groups move the same bytes as serial groups: each group still reads
    # its own inputs and weights as often, only concurrently with its neighbours.
    w_reads = L[5] * bpe * _weight_reads(rows, t_r, p_tiles, systolic)
    if L[6] == 0:
        w_reads *= b_p  # an unshared second operand: one per sample in the dot product
    in_reads = rows * p * g * c_tiles * bpe * b_p
    acc_rw = rows * c * g * (2 * p_tiles - 1) * acc_bytes * b_p
    out_writes = rows * c * g * bpe * b_p
    if L[6] != 0:
        sram_pj = passes * (w_reads * e_w + (in_reads + out_writes) * e_a + acc_rw * e_o)
    else:  # the per-sample second operand lives in the activation SRAM
        sram_pj = passes * ((w_reads + in_reads + out_writes) * e_a + acc_rw * e_o)
    sram_pj += dram * e_a  # DRAM fills land in on-chip SRAM
    macs = r * p * c * g
    return b * macs * e_mac + sram_pj + dram * e_dram


@njit(cache=True)
def build_table(layers, max_batch, ks, batching, t_c, t_p, t_r, systolic, bpe, acc_bytes,
                w_sram, act_half, bytes_per_cycle, overhead, e_mac, e_w, e_a, e_o, e_dram):
    """Latency / mode / traffic / energy tables ``[layer, b]`` for b = 0..max_batch.

    Mode space for batch b: stacking k in ks; b_p samples side by side in the dot
    product (p, fluid; b_p * P <= k*T_P); b_r samples stacked along R (r, fluid; shared
    weights only); ceil(b / (b_r * b_p)) sequential passes.  The FBE entry is the mode of
    least total cycles (ties: less compute, then less DRAM traffic, then smaller k, b_p,
    b_r).  Returns cycles, compute, dram bytes, modes [n, B+1, 3], energy (pJ).
    """
    n = layers.shape[0]
    nb = max_batch + 1
    nk = ks.shape[0]
    cycles = np.zeros((n, nb), dtype=np.int64)
    compute = np.zeros((n, nb), dtype=np.int64)
    dram_t = np.zeros((n, nb), dtype=np.int64)
    modes = np.zeros((n, nb, 3), dtype=np.int32)
    energy = np.zeros((n, nb), dtype=np.float64)
    p_ok = batching == BATCH_P or batching == BATCH_FLUID
    r_ok = batching == BATCH_R or batching == BATCH_FLUID
    # pass_cost[ki, b_p, b_r]: compute cycles of one pass (independent of b)
    pass_cost = np.zeros((nk, nb, nb), dtype=np.int64)
    max_bps = np.ones(nk, dtype=np.int64)
    for i in range(n):
        L = layers[i]
        r = L[0]
        p = L[1]
        c = L[2]
        g = L[3]
        shared = L[6] != 0
        for ki in range(nk):
            k = ks[ki]
            mbp = 1
            if p_ok:
                mbp = min(max_batch, max(1, (k * t_p) // p))
            max_bps[ki] = mbp
            for b_p in range(1, mbp + 1):
                mbr = 1
                if r_ok and shared:
                    mbr = _cdiv(max_batch, b_p)
                for b_r in range(1, mbr + 1):
                    pass_cost[ki, b_p, b_r] = pass_compute_cycles(
                        b_r * r, p, c, g, k, b_p, t_c, t_p, t_r, systolic, shared)
        for b in range(1, nb):
            best_total = np.int64(-1)
            best_comp = np.int64(0)
            best_dram = np.int64(0)
            best_k = 1
            best_bp = 1
            best_br = 1
            best_passes = 1
            for ki in range(nk):
                for b_p in range(1, min(b, max_bps[ki]) + 1):
                    m = _cdiv(b, b_p)
                    mbr = m if (r_ok and shared) else 1
                    for b_r in range(1, mbr + 1):
                        passes = _cdiv(m, b_r)
                        if b_r != _cdiv(m, passes):
                            continue  # a smaller b_r gives the same number of passes
                        comp = passes * pass_cost[ki, b_p, b_r]
                        dram = dram_bytes(L, b, passes, bpe, w_sram, act_half)
                        mem = np.int64(np.ceil(dram / bytes_per_cycle))
                        total = max(comp, mem) + overhead
                        if (best_total < 0 or total < best_total
                                or (total == best_total and (comp < best_comp or (
                                    comp == best_comp and dram < best_dram)))):
                            best_total = total
                            best_comp = comp
                            best_dram = dram
                            best_k = ks[ki]
                            best_bp = b_p
                            best_br = b_r
                            best_passes = passes
            cycles[i, b] = best_total
            compute[i, b] = best_comp
            dram_t[i, b] = best_dram
            modes[i, b, 0] = best_br
            modes[i, b, 1] = best_bp
            modes[i, b, 2] = best_k
            energy[i, b] = _energy_pj(L, b, best_k, best_bp, best_br, best_passes, best_dram,
                                      t_c, t_p, t_r, systolic, bpe, acc_bytes, e_mac, e_w,
                                      e_a, e_o, e_dram)
    return cycles, compute, dram_t, modes, energy
