"""Per-design latency table: the Fluid Batching Engine's lookup table plus timings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cost_models.design import BATCHING, NpuDesign
from cost_models.layers import layer_array
from cost_models.tech import scaled, value
from dse.common import InputError

_BATCH_CODE = {name: i for i, name in enumerate(BATCHING)}


@dataclass(frozen=True)
class LatencyTable:
    """Arrays indexed ``[layer, b]`` for ``b = 0..max_batch`` (column 0 is zero).

    cycles: total cycles of the layer step for a batch of b (int64);
    compute_cycles: array busy cycles (int64); ms: cycles at clock_mhz (float64);
    modes: ``[layer, b, 3]`` = b_r, b_p, k chosen by the FBE (int32);
    utilisation: useful MACs / (pe_count * pe_width * cycles) (float64, 0..1);
    dram_bytes: off-chip traffic (int64); energy_uj: energy of the batch pass (float64).
    """

    cycles: np.ndarray
    compute_cycles: np.ndarray
    ms: np.ndarray
    modes: np.ndarray
    utilisation: np.ndarray
    dram_bytes: np.ndarray
    energy_uj: np.ndarray


def sram_energy_per_byte_pj(size_kib: float, tech_nm: float, port_bits: float = 64.0
                            ) -> float:
    """Read energy per byte (pJ) of an SRAM of ``size_kib`` KiB read ``port_bits`` wide.

    A ``port_bits``-wide SRAM is ``port_bits / 64`` parallel 64-bit banks of
    ``size_kib * 64 / port_bits`` KiB each, and every access reads one word from each.  The
    64-bit read energy of a bank is a power law through Horowitz's 8 KB / 1 MB points (10
    and 100 pJ): ``e = e8k/8 * (bank/8 KiB)^a`` per byte with ``a = log(10)/log(128)``; the
    32 KB point (20 pJ) is reproduced within 4%.  Banks below 1 KiB are clamped to 1 KiB
    (periphery dominates there).  A wide port therefore costs less per byte: the bit
    lines and word lines of a shallow bank are short.
    """
    e8 = scaled("e_sram8k_64b_pj", tech_nm) / 8.0
    e1m = scaled("e_sram1m_64b_pj", tech_nm) / 8.0
    alpha = math.log(e1m / e8) / math.log(1024.0 / 8.0)
    bank_kib = size_kib * 64.0 / max(port_bits, 64.0)
    return e8 * (max(bank_kib, 1.0) / 8.0) ** alpha


def sram_port_bits(design: NpuDesign) -> dict[str, float]:
    """Read width (bits per cycle) of each SRAM in the PE model: the activation SRAM
    feeds one input row of the widest stacked dot product, the weight SRAM refills one
    weight per PE per cycle, the output SRAM moves one accumulator per PE per cycle."""
    d = design
    return {"act_sram": d.pe_width * max(d.stack_factors) * d.precision_bits,
            "weight_sram": d.pe_count * d.precision_bits,
            "out_sram": d.pe_count * value("acc_bits")}


def mac_energy_pj(design: NpuDesign) -> float:
    """Energy of one MAC (pJ): a precision_bits multiply (~ bits^2, from the 8-bit point)
    plus an acc_bits add (~ bits, from the 32-bit point)."""
    bits = design.precision_bits
    mult = scaled("e_mult8_pj", design.tech_nm) * (bits / 8.0) ** 2
    add = scaled("e_add32_pj", design.tech_nm) * value("acc_bits") / 32.0
    return mult + add


def effective_tile_rows(design: NpuDesign) -> int:
    """T_R actually usable: the output SRAM must hold T_R x pe_count accumulators."""
    acc_bytes = int(value("acc_bits")) // 8
    fit = int(design.out_sram_kib * 1024) // (design.pe_count * acc_bytes)
    return max(1, min(design.tile_rows, fit))


#: Largest integer any step of the latency-table kernel may reach (int64 holds 2^63 - 1).
INT64_BUDGET = 1 << 62


def _int64_need(design: NpuDesign, L, t_r: int, bytes_per_cycle: float) -> int:
    """An upper bound (exact Python integers) on every int64 intermediate of
    ``_kernels.build_table`` for one layer row ``L`` on ``design``: pass cycles, cycles
    of a step, DRAM bytes and the byte counts of the energy model."""
    r, p, c, g, n_in, n_w, shared, n_out = (int(x) for x in L)
    b, t_p, t_c = design.max_batch, design.pe_width, design.pe_count
    bpe = design.precision_bits // 8
    rows = 2 * b * r                              # b_r * b_p * R <= 2 * max_batch * R
    p_tiles = -(-p // t_p)
    if design.pe_style == "systolic":
        per_pass = g * c * p_tiles * (2 * max(design.stack_factors) * t_p + t_c + rows)
    else:
        per_pass = g * c * p_tiles * (2 * rows + (-(-rows // t_r)) * t_p + b * p) + t_p + 64
    w_bytes, out_bytes = n_w * bpe, n_out * bpe
    in_bytes = (n_in + (0 if shared else n_w)) * bpe
    rereads = -(-w_bytes // int(design.weight_sram_kib * 1024)) + 1
    dram = b * (w_bytes + in_bytes * rereads + out_bytes)
    reads = 2 * b * r * g * c * (p + 4 * p_tiles) * 8 + w_bytes * b * rows
    return max(b * per_pass, int(dram / bytes_per_cycle) + 1 + dram, reads)


def check_representable(design: NpuDesign, arr: np.ndarray, names=None) -> None:
    """Refuse (InputError naming the layer) a layer whose latency table would not fit
    int64 arithmetic on ``design``: the table's integers are bounded by
    :func:`_int64_need`, summed over the layers (a model's total cycles), before the
    kernel runs, so the kernel never wraps around."""
    bpc = design.dram_gbps * 1e9 / (design.clock_mhz * 1e6)
    t_r = effective_tile_rows(design)
    total = 0
    for i, row in enumerate(arr):
        need = _int64_need(design, row, t_r, bpc)
        total += need
        if need > INT64_BUDGET or total > INT64_BUDGET:
            name = names[i] if names is not None else f"layers[{i}]"
            r, p, c, g = (int(x) for x in row[:4])
            raise InputError(
                f"R x P x C x G = {r} x {p} x {c} x {g} is too large for the cost model on "
                f"this design (its cycle and byte counts would reach ~{float(total):.3g}, "
                f"beyond the int64 budget {float(INT64_BUDGET):.3g})",
                field=f"layer '{name}'", allowed="cycle and byte counts <= 2^62")


def latency_table(design: NpuDesign, layers) -> LatencyTable:
    """Build the latency / FBE-mode table of ``layers`` on ``design`` (Numba kernel)."""
    if not isinstance(design, NpuDesign):
        raise InputError(f"expected an NpuDesign, got {type(design).__name__}",
                         field="design")
    if not isinstance(layers, np.ndarray):
        layers = list(layers)
    arr = layers if isinstance(layers, np.ndarray) else layer_array(layers)
    names = None if isinstance(layers, np.ndarray) else [ly.name for ly in layers]
    if arr.ndim != 2 or arr.shape[1] != 8 or arr.dtype != np.int64:
        raise InputError("expected a layer_array() int64 array of shape [n, 8]",
                         field="layers")
    check_representable(design, arr, names)
    d = design
    bpe = d.precision_bits // 8
    acc_bytes = int(value("acc_bits")) // 8
    bytes_per_cycle = d.dram_gbps * 1e9 / (d.clock_mhz * 1e6)
    ks = np.asarray(d.stack_factors, dtype=np.int64)
    port = sram_port_bits(d)
    from cost_models import _kernels  # Numba: imported when a table is first built

    cycles, compute, dram, modes, energy_pj = _kernels.build_table(
        arr, int(d.max_batch), ks, _BATCH_CODE[d.batching], int(d.pe_count),
        int(d.pe_width), effective_tile_rows(d), d.pe_style == "systolic", bpe, acc_bytes,
        int(d.weight_sram_kib * 1024), int(d.act_sram_kib * 1024) // 2, bytes_per_cycle,
        int(value("layer_overhead_cycles")), mac_energy_pj(d),
        sram_energy_per_byte_pj(d.weight_sram_kib, d.tech_nm, port["weight_sram"]),
        sram_energy_per_byte_pj(d.act_sram_kib, d.tech_nm, port["act_sram"]),
        sram_energy_per_byte_pj(d.out_sram_kib, d.tech_nm, port["out_sram"]),
        scaled("e_dram_64b_pj", d.tech_nm) / 8.0)
    ms = cycles / (d.clock_mhz * 1e3)
    macs = (arr[:, 0] * arr[:, 1] * arr[:, 2] * arr[:, 3]).astype(np.float64)
    batch = np.arange(cycles.shape[1], dtype=np.float64)
    util = np.zeros(cycles.shape, dtype=np.float64)
    nz = cycles > 0
    util[nz] = (macs[:, None] * batch[None, :])[nz] / (
        cycles[nz].astype(np.float64) * d.pe_count * d.pe_width)
    return LatencyTable(cycles=cycles, compute_cycles=compute, ms=ms, modes=modes,
                        utilisation=util, dram_bytes=dram, energy_uj=energy_pj * 1e-6)


def kernels_ready() -> bool:
    """True when the latency-table kernel is compiled in this process or in Numba's
    cache (False: the next :func:`latency_table` compiles it first, ~10 s)."""
    from cost_models import _kernels
    from dse.common import compiled_or_cached

    return compiled_or_cached(_kernels.build_table)
