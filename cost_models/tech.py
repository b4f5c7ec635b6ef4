"""Every technology constant of the area, energy and timing models, with its source.

One table, :data:`TECH`: ``name -> Constant(value, unit, node_nm, source)``.  A constant
measured at ``node_nm`` is moved to the design's node by :func:`scaled`:

* area (``um2``) scales with the square of the feature size, ``(node / ref)^2``
  (classical dimension scaling, Dennard et al., IEEE JSSC 9(5), 1974);
* on-chip energy (``pJ``) scales linearly, ``node / ref``: switched capacitance shrinks
  with the feature size while the supply voltage has stayed near 0.8-1.0 V below 45 nm
  (our simplification; Stillmaker & Baas, Integration 58, 2017, show the real curve
  deviates from classical rules, so treat cross-node figures as +-30%);
* ``node_nm = 0`` marks node-independent constants (DRAM energy, cycle counts, ratios).
"""

from __future__ import annotations

from typing import NamedTuple


class Constant(NamedTuple):
    value: float
    unit: str
    node_nm: float
    source: str


_HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm, 0.9 V"
_NANGATE = "Nangate 45 nm Open Cell Library (FreePDK45), typical corner"

TECH: dict[str, Constant] = {
    # --- energy (Horowitz ISSCC 2014 table, 45 nm) ---
    "e_mult8_pj": Constant(0.2, "pJ", 45, _HOROWITZ + ": 8-bit integer multiply"),
    "e_add8_pj": Constant(0.03, "pJ", 45, _HOROWITZ + ": 8-bit integer add"),
    "e_add32_pj": Constant(0.1, "pJ", 45, _HOROWITZ + ": 32-bit integer add"),
    "e_sram8k_64b_pj": Constant(10.0, "pJ", 45, _HOROWITZ + ": 64-bit read, 8 KB SRAM"),
    "e_sram32k_64b_pj": Constant(20.0, "pJ", 45, _HOROWITZ + ": 64-bit read, 32 KB SRAM"),
    "e_sram1m_64b_pj": Constant(100.0, "pJ", 45, _HOROWITZ + ": 64-bit read, 1 MB SRAM"),
    "e_dram_64b_pj": Constant(1950.0, "pJ", 0,
                              _HOROWITZ + ": 64-bit DRAM access 1.3-2.6 nJ (midpoint); "
                              "off-chip, not scaled with the logic node"),
    # --- area of arithmetic (Horowitz ISSCC 2014 table, 45 nm) ---
    "a_mult8_um2": Constant(282.0, "um2", 45, _HOROWITZ + ": 8-bit integer multiplier"),
    "a_add8_um2": Constant(36.0, "um2", 45, _HOROWITZ + ": 8-bit integer adder"),
    "a_add32_um2": Constant(137.0, "um2", 45, _HOROWITZ + ": 32-bit integer adder"),
    # --- standard cells ---
    "a_dff_um2": Constant(4.522, "um2", 45, _NANGATE + ": DFF_X1 (one register bit)"),
    "a_mux2_um2": Constant(1.862, "um2", 45, _NANGATE + ": MUX2_X1 (one 2:1 mux bit)"),
    # --- SRAM ---
    "a_sram_bitcell_um2": Constant(0.346, "um2", 45,
                                   "Mistry et al., IEDM 2007 (Intel 45 nm high-k/metal "
                                   "gate): 6T SRAM cell 0.346 um2"),
    "sram_array_efficiency": Constant(0.5, "ratio", 0,
                                      "ours: bit-cell area / macro area incl. decoders, "
                                      "sense amps and I/O, typical of CACTI 6.5 outputs for "
                                      "64 KiB-4 MiB arrays"),
    # --- control and fixed overheads ---
    "control_fraction": Constant(0.02, "ratio", 0,
                                 "Jouppi et al., ISCA 2017 (TPU v1 floor plan): control "
                                 "is 2% of the die"),
    "layer_overhead_cycles": Constant(64.0, "cycles", 0,
                                      "ours: per-layer FBE lookup, descriptor load and "
                                      "pipeline restart"),
    "acc_bits": Constant(32.0, "bits", 0,
                         "ours: accumulator width (TPU v1 uses 32-bit accumulators, "
                         "Jouppi et al., ISCA 2017)"),
    "fbe_lut_layers": Constant(256.0, "layers", 0,
                               "ours: FBE lookup-table depth (layers per model it can hold)"),
}


def value(name: str) -> float:
    """Raw value of a constant at its reference node."""
    return TECH[name].value


def scaled(name: str, tech_nm: float) -> float:
    """Constant moved to ``tech_nm`` (area ~ node^2, on-chip energy ~ node)."""
    c = TECH[name]
    if c.node_nm == 0:
        return c.value
    ratio = tech_nm / c.node_nm
    if c.unit == "um2":
        return c.value * ratio * ratio
    if c.unit == "pJ":
        return c.value * ratio
    return c.value
