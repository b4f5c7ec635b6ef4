"""Area model (mm2) with a per-component breakdown; constants from :mod:`cost_models.tech`.

Bottom-up cell and bit-cell areas (45 nm) are moved to the design's node with the
Stillmaker & Baas table (:func:`cost_models.tech.area_factor`) and calibrated to published
silicon (:mod:`cost_models.silicon`): logic is multiplied by ``cal_logic_layout``, SRAM bit
cells are divided by ``cal_sram_efficiency``, and every chip pays ``cal_fixed_overhead_um2``.

Components:
* ``multipliers``: pe_count * pe_width multipliers (area ~ bits^2 from the 8-bit one);
* ``adder_trees``: adder_tree style: per PE a binary tree of pe_width-1 adders whose width
  grows by one bit per level, plus an acc_bits accumulator adder and register;
  systolic style: one acc_bits adder and partial-sum register per MAC cell;
* ``pe_registers``: double-buffered weight registers (and, systolic, the input pipeline
  register) per multiplier;
* ``act_sram``, ``weight_sram``, ``out_sram``: SRAM macros; ``tile_buffers``: the
  double-buffered T_R x T_P input tile buffer (SRAM);
* ``stacking``: for every stack factor k > 1, one acc_bits adder per group of k PEs
  (k-1 adders) and one acc_bits 2:1 mux per PE; ``p_batching``: segment muxes on every
  adder-tree node when batching is "p" or "fluid";
* ``fbe_lut``: the Fluid Batching Engine lookup table (max_batch x fbe_lut_layers
  entries of <b_r, b_p, k>) when batching is "fluid" or several stack factors exist;
* ``control``: control_fraction of everything above;
* ``fixed_overhead``: the per-chip blocks outside the PE model (DMA, host interface,
  post-processing), one calibrated constant moved to the node.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from cost_models.design import NpuDesign
from cost_models.tech import area_factor, scaled, value

LOGIC_KEYS = ("multipliers", "adder_trees", "pe_registers", "stacking", "p_batching")
SRAM_KEYS = ("act_sram", "weight_sram", "out_sram", "tile_buffers", "fbe_lut")


class Calibration(NamedTuple):
    """Factors fitted to published silicon: logic layout factor (ratio), SRAM macro
    efficiency (bit-cell / macro area) and the fixed per-chip overhead (um2 at 45 nm)."""

    logic_layout: float
    sram_efficiency: float
    fixed_overhead_um2: float

    @classmethod
    def stored(cls) -> Calibration:
        """The fitted values stored in :data:`cost_models.tech.TECH`."""
        return cls(value("cal_logic_layout"), value("cal_sram_efficiency"),
                   value("cal_fixed_overhead_um2"))


def _bitcells_mm2(bits: float, tech_nm: float) -> float:
    return bits * scaled("a_sram_bitcell_um2", tech_nm) * 1e-6


def _adder_um2(bits: float, tech_nm: float) -> float:
    # Ripple/carry-select adders grow linearly with width; per-bit area from the
    # 32-bit adder (the 8-bit point gives 4.5 um2/bit, within 5%).
    return scaled("a_add32_um2", tech_nm) * bits / 32.0


def register_file_mm2(entries: int, width_bits: int, tech_nm: float) -> float:
    """Uncalibrated area (mm2) of a register file of ``entries`` words of ``width_bits``:
    one flip-flop per bit plus a read multiplexer tree (``entries - 1`` 2:1 muxes per
    output bit).  Used for small buffers that chips build from flip-flops."""
    dff = scaled("a_dff_um2", tech_nm)
    mux = scaled("a_mux2_um2", tech_nm)
    return (entries * width_bits * dff + width_bits * (entries - 1) * mux) * 1e-6


def cell_areas(design: NpuDesign) -> dict[str, float]:
    """Uncalibrated areas (mm2 at the design's node): standard cells for the
    :data:`LOGIC_KEYS`, bare bit cells for the :data:`SRAM_KEYS`."""
    d = design
    nm = d.tech_nm
    bits = d.precision_bits
    acc = value("acc_bits")
    n_mult = d.pe_count * d.pe_width
    dff = scaled("a_dff_um2", nm)
    mux = scaled("a_mux2_um2", nm)
    mult_um2 = scaled("a_mult8_um2", nm) * (bits / 8.0) ** 2
    out = {"multipliers": n_mult * mult_um2 * 1e-6}

    if d.pe_style == "systolic":
        adders = n_mult * (_adder_um2(acc, nm) + acc * dff)
        regs = n_mult * (2 * bits + bits) * dff       # 2 weight + 1 input register
        seg_nodes = n_mult                            # one cut point per cell
    else:
        depth = max(1, math.ceil(math.log2(d.pe_width))) if d.pe_width > 1 else 0
        tree = 0.0
        nodes = d.pe_width
        seg_nodes = 0
        for level in range(depth):
            nodes = math.ceil(nodes / 2)
            tree += nodes * _adder_um2(2 * bits + level + 1, nm)
            seg_nodes += nodes
        adders = d.pe_count * (tree + _adder_um2(acc, nm) + acc * dff)
        regs = n_mult * 2 * bits * dff                # double-buffered weights
        seg_nodes *= d.pe_count
    out["adder_trees"] = adders * 1e-6
    out["pe_registers"] = regs * 1e-6
    out["act_sram"] = _bitcells_mm2(d.act_sram_kib * 8192, nm)
    out["weight_sram"] = _bitcells_mm2(d.weight_sram_kib * 8192, nm)
    out["out_sram"] = _bitcells_mm2(d.out_sram_kib * 8192, nm)
    out["tile_buffers"] = _bitcells_mm2(2 * d.tile_rows * d.pe_width * bits, nm)

    stack = 0.0
    for k in d.stack_factors:
        if k > 1:
            stack += (d.pe_count // k) * (k - 1) * _adder_um2(acc, nm) + d.pe_count * acc * mux
    out["stacking"] = stack * 1e-6
    out["p_batching"] = (seg_nodes * acc * mux if d.batching in ("p", "fluid") else 0.0) * 1e-6
    lut = 0.0
    if d.batching == "fluid" or len(d.stack_factors) > 1:
        entry_bits = (math.ceil(math.log2(d.max_batch + 1)) * 2
                      + max(1, math.ceil(math.log2(len(d.stack_factors) + 1))))
        lut = _bitcells_mm2(d.max_batch * value("fbe_lut_layers") * entry_bits, nm)
    out["fbe_lut"] = lut
    return out


def area_breakdown(design: NpuDesign, *, calibration: Calibration | None = None
                   ) -> dict[str, float]:
    """Area in mm2 per component plus ``total`` (calibration: the stored fit by default)."""
    cal = calibration or Calibration.stored()
    out = {k: v * cal.logic_layout if k in LOGIC_KEYS else v / cal.sram_efficiency
           for k, v in cell_areas(design).items()}
    subtotal = sum(out.values())
    out["control"] = subtotal * value("control_fraction")
    out["fixed_overhead"] = cal.fixed_overhead_um2 * 1e-6 * area_factor(design.tech_nm)
    out["total"] = subtotal + out["control"] + out["fixed_overhead"]
    return out
