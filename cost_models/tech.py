"""Every technology constant of the area, energy and timing models, with its source.

One table, :data:`TECH`: ``name -> Constant(value, unit, node_nm, source)``.  A constant
measured at ``node_nm`` is moved to the design's node by :func:`scaled`:

* area (``um2``) scales with the published per-node area factors of Stillmaker & Baas
  (:data:`NODE_AREA_FACTOR`, :func:`area_factor`), not with ``(node / ref)^2``: FinFET
  nodes shrink far less than the classical rule says (45 -> 16 nm: 0.19, not 0.13);
* on-chip energy (``pJ``) scales with the published energy-versus-supply fits of the same
  paper (:data:`NODE_ENERGY_COEFF`, :func:`energy_factor`), evaluated at one supply
  voltage for every node, ``ref_vdd_v`` (Horowitz's 0.9 V): a design has no supply field,
  so the model compares nodes at equal voltage; :func:`energy_factor` also converts a
  published energy measured at another supply (docs/cost_model.md, energy check);
* ``node_nm = 0`` marks node-independent constants (DRAM energy, cycle counts, ratios).

The three ``cal_*`` constants are fitted to published silicon by
:func:`cost_models.silicon.fit_area` (data and leave-one-out validation in
:mod:`cost_models.silicon`); a test checks that the stored values equal a fresh fit.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple


class Constant(NamedTuple):
    value: float
    unit: str
    node_nm: float
    source: str


_HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, 45 nm, 0.9 V"
_NANGATE = "Nangate 45 nm Open Cell Library (FreePDK45), typical corner"
_FIT = "fitted to published silicon (cost_models/silicon.py, docs/cost_model.md)"

#: Area of a layout at each node relative to the same layout at 45 nm: the 45 nm row of
#: the area-scaling table of Stillmaker & Baas, "Scaling equations for the accurate
#: prediction of CMOS device performance from 180 nm to 7 nm", Integration 58 (2017)
#: 74-81 (two significant digits, as published).  Nodes in between are interpolated
#: linearly in log(node)-log(factor); nodes outside 7-180 nm extend the end segment.
NODE_AREA_FACTOR: dict[int, float] = {
    180: 19.0, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46, 20: 0.21, 16: 0.19,
    14: 0.17, 10: 0.1, 7: 0.059,
}
_NODES = sorted(NODE_AREA_FACTOR)

#: Energy per operation versus supply voltage V at each node, ``E = c2 V^2 + c1 V + c0``
#: (arbitrary units, only ratios are used): the fitted energy equations of Stillmaker &
#: Baas (Integration 58, 2017), high-performance (HP) device rows for 45 nm and below,
#: as transcribed in the nodeScale tool (UCLA NanoCAD Lab, MIT licence).  Each fit holds
#: over that node's published supply range.
NODE_ENERGY_COEFF: dict[int, tuple[float, float, float]] = {
    180: (0.0, 24.64, -17.98), 130: (7.171, -6.709, 2.904), 90: (4.762, -4.781, 2.092),
    65: (3.755, -4.398, 1.975), 45: (1.018, -0.3107, 0.1539), 32: (0.8367, -0.4341, 0.1701),
    20: (0.373, -0.1582, 0.04104), 16: (0.2958, -0.1241, 0.03024),
    14: (0.2363, -0.09675, 0.02239), 10: (0.2068, -0.09311, 0.02375),
    7: (0.1776, -0.09097, 0.02447),
}

# Fitted values (regenerate with `python3 benchmarks/calibrate_area.py`).
CAL_LOGIC = 2.317
CAL_SRAM = 0.2634
CAL_FIXED = 553800.0

TECH: dict[str, Constant] = {
    # --- energy (Horowitz ISSCC 2014 table, 45 nm) ---
    "e_mult8_pj": Constant(0.2, "pJ", 45, _HOROWITZ + ": 8-bit integer multiply"),
    "e_add8_pj": Constant(0.03, "pJ", 45, _HOROWITZ + ": 8-bit integer add"),
    "e_add32_pj": Constant(0.1, "pJ", 45, _HOROWITZ + ": 32-bit integer add"),
    "e_sram8k_64b_pj": Constant(10.0, "pJ", 45, _HOROWITZ + ": 64-bit read, 8 KB SRAM"),
    "e_sram32k_64b_pj": Constant(20.0, "pJ", 45, _HOROWITZ + ": 64-bit read, 32 KB SRAM"),
    "e_sram1m_64b_pj": Constant(100.0, "pJ", 45, _HOROWITZ + ": 64-bit read, 1 MB SRAM"),
    "ref_vdd_v": Constant(0.9, "V", 0,
                          _HOROWITZ + " (his supply): every on-chip energy is at this "
                          "supply, at every node"),
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
    # --- calibration to published silicon (see module docstring) ---
    "cal_logic_layout": Constant(CAL_LOGIC, "ratio", 0,
                                 _FIT + ": placed-and-routed logic area / standard-cell "
                                 "area (utilisation, wiring, clock tree, pipelining)"),
    "cal_sram_efficiency": Constant(CAL_SRAM, "ratio", 0,
                                    _FIT + ": bit-cell area / SRAM macro area (decoders, "
                                    "sense amps, I/O, banking)"),
    "cal_fixed_overhead_um2": Constant(CAL_FIXED, "um2", 45,
                                       _FIT + ": per-chip blocks outside the PE model "
                                       "(DMA, host interface, post-processing)"),
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


def _log_log(table, tech_nm: float) -> float:
    """Interpolate ``table(node)`` (positive at the two table nodes around ``tech_nm``)
    linearly in log(node)-log(value); the end segments are extended beyond the first and
    last node of :data:`NODE_AREA_FACTOR`."""
    x = math.log(tech_nm)
    i = 0
    while i < len(_NODES) - 2 and x > math.log(_NODES[i + 1]):
        i += 1
    n0, n1 = _NODES[i], _NODES[i + 1]
    y0, y1 = math.log(table(n0)), math.log(table(n1))
    t = (x - math.log(n0)) / (math.log(n1) - math.log(n0))
    return math.exp(y0 + t * (y1 - y0))


@functools.lru_cache(maxsize=256)
def area_factor(tech_nm: float) -> float:
    """Area of a layout at ``tech_nm`` relative to 45 nm (Stillmaker & Baas 2017 table,
    log-log interpolation, end segments extended beyond 7 and 180 nm)."""
    return _log_log(NODE_AREA_FACTOR.__getitem__, tech_nm)


@functools.lru_cache(maxsize=256)
def energy_factor(tech_nm: float, vdd: float | None = None) -> float:
    """Energy per operation at ``tech_nm`` and supply ``vdd`` (V; default ``ref_vdd_v``)
    relative to 45 nm at ``ref_vdd_v`` (Stillmaker & Baas 2017 energy fits, log-log
    interpolation between nodes as for :func:`area_factor`)."""
    ref = value("ref_vdd_v")
    v = ref if vdd is None else vdd

    def energy(c: tuple[float, float, float], volts: float) -> float:
        return c[0] * volts ** 2 + c[1] * volts + c[2]

    return (_log_log(lambda n: energy(NODE_ENERGY_COEFF[n], v), tech_nm)
            / energy(NODE_ENERGY_COEFF[45], ref))


def value(name: str) -> float:
    """Raw value of a constant at its reference node."""
    return TECH[name].value


def scaled(name: str, tech_nm: float) -> float:
    """Constant moved to ``tech_nm`` (area by :func:`area_factor`, on-chip energy by
    :func:`energy_factor` at ``ref_vdd_v``)."""
    c = TECH[name]
    if c.node_nm == 0:
        return c.value
    if c.unit == "um2":
        return c.value * area_factor(tech_nm) / area_factor(c.node_nm)
    if c.unit == "pJ":
        return c.value * energy_factor(tech_nm) / energy_factor(c.node_nm)
    return c.value
