"""Published accelerator silicon, the area calibration fitted to it, and its validation.

:data:`SILICON` lists real accelerators at several nodes, each described as an
:class:`NpuDesign` (plus the buffers our PE model has no field for) with its published
areas (mm2) and where in the source each number is.  :func:`fit_area` fits the three
:class:`Calibration` factors; :func:`leave_one_out` refits without each chip in turn and
predicts it.  ``python3 benchmarks/calibrate_area.py`` prints both tables
(docs/cost_model.md).

Blocks compared: ``compute`` (multipliers + adder trees + PE registers + stacking and
P-batching hardware), ``act_sram``, ``weight_sram``, ``out_sram`` and ``total``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from cost_models.area import LOGIC_KEYS, SRAM_KEYS, Calibration, cell_areas
from cost_models.design import NpuDesign
from cost_models.tech import area_factor, scaled, value

BLOCKS = ("compute", "act_sram", "weight_sram", "out_sram", "total")


@dataclass(frozen=True)
class Chip:
    """One published accelerator.

    published: block -> (mm2, where in the source); excluded: block -> why it is shown
    but not fitted; extra_sram_kib / extra_reg_bits: buffers outside the PE model (SRAM
    macros / register files), added to the predicted total; mapping: how the architecture
    was mapped onto an :class:`NpuDesign`.
    """

    name: str
    source: str
    design: NpuDesign
    published: dict[str, tuple[float, str]]
    mapping: str
    extra_sram_kib: float = 0.0
    extra_reg_bits: int = 0
    excluded: dict[str, str] = field(default_factory=dict)
    energy_pj_per_mac: tuple[float, str] | None = None

    def fitted_blocks(self) -> list[str]:
        return [b for b in self.published if b not in self.excluded]


def _design(**kw) -> NpuDesign:
    base = dict(tile_rows=1, stack_factors=(1,), batching="none", max_batch=1,
                pe_style="adder_tree")
    return NpuDesign(**(base | kw)).validated()


_DIANNAO = ("Chen et al., 'DianNao: a small-footprint high-throughput accelerator for "
            "ubiquitous machine-learning', ASPLOS 2014")
_SHIDIANNAO = ("Du et al., 'ShiDianNao: shifting vision processing closer to the sensor', "
               "ISCA 2015")
_EYERISS = ("Chen et al., 'Eyeriss: an energy-efficient reconfigurable accelerator for deep "
            "convolutional neural networks', IEEE JSSC 52(1), 2017")
_TPU = "Jouppi et al., 'In-datacenter performance analysis of a tensor processing unit', ISCA 2017"
_SIMBA = ("Shao et al., 'Simba: scaling deep-learning inference with multi-chip-module-based "
          "architecture', MICRO 2019; Zimmer et al., VLSI 2019")
_EXYNOS = ("Park et al., 'A 6K-MAC feature-map-sparsity-aware neural processing unit in 5nm "
           "flagship mobile SoC', ISSCC 2021 (paper 9.5); Jang et al., ISCA 2021")
_TPU_DIE = 331.0   # mm2, upper bound "< 331" of Table 2; the floor-plan shares are of it

SILICON: tuple[Chip, ...] = (
    Chip(
        "diannao", _DIANNAO,
        _design(pe_count=16, pe_width=16, act_sram_kib=2, weight_sram_kib=32,
                out_sram_kib=2, precision_bits=16, clock_mhz=980, tech_nm=65),
        {"compute": (0.846563, "Table 6: NFU 846,563 um2"),
         "weight_sram": (1.153814, "Table 6: SB 1,153,814 um2"),
         "act_sram": (0.427992, "Table 6: NBin 427,992 um2"),
         "out_sram": (0.433906, "Table 6: NBout 433,906 um2"),
         "total": (3.023077, "Table 6: accelerator 3,023,077 um2 (abstract: 3.02 mm2)")},
        "NFU = 16 adder-tree PEs (Tn) of 16 16-bit multipliers (Ti); NBin / SB / NBout = "
        "act / weight / out SRAM (2 / 32 / 2 KB); CP, DMA and AXI = fixed overhead",
        excluded={"act_sram": "2 KB at 26 um2/bit (50x the 65 nm bit cell): the paper's "
                              "per-type split lists 1.158 mm2 of memory macros, i.e. SB "
                              "alone, so NBin/NBout are register files, not SRAM macros",
                  "out_sram": "as NBin: a 2 KB register file, not an SRAM macro"},
        energy_pj_per_mac=(2 * 485e-3 / 452e9 * 1e12,
                           "abstract: 452 GOP/s at 485 mW (post-layout, 65 nm, peak)")),
    Chip(
        "shidiannao", _SHIDIANNAO,
        _design(pe_count=64, pe_width=1, act_sram_kib=64, weight_sram_kib=128,
                out_sram_kib=64, precision_bits=16, clock_mhz=1000, tech_nm=65),
        {"total": (4.86, "abstract: 4.86 mm2 at 65 nm (layout)")},
        "8x8 single-MAC 16-bit PEs = 64 PEs of width 1; NBin / SB / NBout (64 / 128 / "
        "64 KB) = act / weight / out SRAM; the 32 KB instruction buffer is extra SRAM; the "
        "inter-PE FIFOs and the ALU are not modelled",
        extra_sram_kib=32),
    Chip(
        "eyeriss", _EYERISS,
        _design(pe_count=168, pe_width=1, act_sram_kib=108, weight_sram_kib=73.5,
                out_sram_kib=0.65625, precision_bits=16, clock_mhz=200, tech_nm=65),
        {"total": (12.25, "chip specification (die-photo figure): core 3.5 mm x 3.5 mm, "
                          "TSMC 65 nm LP (chip 4.0 mm x 4.0 mm with pads)")},
        "168 single-MAC 16-bit PEs (12x14, row stationary) = 168 PEs of width 1; global "
        "buffer 108 KB = act SRAM; the 168 filter scratch pads (224 x 16 b SRAM) = weight "
        "SRAM (73.5 KiB); ifmap (12 x 16 b) and psum (24 x 16 b) scratch pads are register "
        "files (extra register bits); the NoC and RLC codecs are not modelled",
        extra_reg_bits=168 * 36 * 16,
        energy_pj_per_mac=(278e-3 / (35 * 666e6) * 1e12,
                           "abstract: AlexNet CONV layers (666M MACs) at 35 frames/s and "
                           "278 mW (batch 4, 200 MHz, 1 V)")),
    Chip(
        "tpu_v1", _TPU,
        _design(pe_count=256, pe_width=256, tile_rows=256, batching="r", max_batch=32,
                pe_style="systolic", act_sram_kib=24576, weight_sram_kib=256,
                out_sram_kib=4096, precision_bits=8, clock_mhz=700, tech_nm=28),
        {"compute": (0.24 * _TPU_DIE, "Figure 2 floor plan: matrix multiply unit 24% of "
                                      "the < 331 mm2 die (Table 2)"),
         "act_sram": (0.29 * _TPU_DIE, "Figure 2: unified buffer 29% (24 MiB)"),
         "out_sram": (0.06 * _TPU_DIE, "Figure 2: accumulators 6% (4 MiB)"),
         "total": (_TPU_DIE, "Table 2: die < 331 mm2 at 28 nm (the bound is used)")},
        "256x256 int8 weight-stationary systolic array; unified buffer = act SRAM, "
        "accumulators = out SRAM, weight FIFO (4 x 64 KiB) = weight SRAM; the activation "
        "pipeline (6%), I/O (10%: DDR3, PCIe) and host interface are outside the PE model"),
    Chip(
        "simba", _SIMBA,
        _design(pe_count=128, pe_width=8, act_sram_kib=192, weight_sram_kib=512,
                out_sram_kib=48, precision_bits=8, clock_mhz=2000, tech_nm=16),
        {"total": (6.0, "MICRO 2019: 6 mm2 chiplet, TSMC 16 nm FinFET")},
        "16 PEs x 8 vector MACs of width 8 = 128 adder-tree PEs of width 8; weight (16 x "
        "32 KB), input (16 x 8 KB + 64 KB global PE) and accumulation (16 x 3 KB) buffers "
        "= weight / act / out SRAM",
        excluded={"total": "the chiplet includes 8 ground-referenced-signalling "
                           "transceivers, a RISC-V controller and NoC routers for the "
                           "36-chip package; the VLSI 2019 abstract's 1.29 TOPS/mm2 at 4.01 "
                           "TOPS implies 3.1 mm2, so the sources disagree on what the area "
                           "covers"},
        energy_pj_per_mac=(2 * 0.11, "VLSI 2019 abstract: 0.11 pJ/op (best point, low "
                                     "voltage)")),
    Chip(
        "exynos_npu_5nm", _EXYNOS,
        _design(pe_count=384, pe_width=16, act_sram_kib=1536, weight_sram_kib=1536,
                out_sram_kib=1.5, precision_bits=8, clock_mhz=1196, tech_nm=5),
        {"total": (5.46, "ISSCC 2021 9.5: NPU area 5.46 mm2, 5 nm")},
        "3 cores x 2 convolution engines of 16-wide adder-tree dot products (6144 int8 "
        "MACs) = 384 PEs of width 16; the 3 x 1 MB tightly-coupled memories = act + weight "
        "SRAM (1.5 MiB each); accumulators not published (minimum out SRAM)",
        excluded={"total": "5 nm is outside the Stillmaker-Baas table (extrapolated), and "
                           "the NPU includes a CPU, three vector processing units, "
                           "feature-map compressors and zero-skipping logic that the PE "
                           "model has no field for"},
        energy_pj_per_mac=(2 / 13.6, "ISCA 2021 abstract: 13.6 TOPS/W, Inception-v3 int8, "
                                     "one core, with zero skipping")),
)


def _basis(chip: Chip) -> dict[str, np.ndarray]:
    """Per block, the coefficients of (logic_layout, 1 / sram_efficiency, fixed um2):
    every predicted area is linear in them."""
    cells = cell_areas(chip.design)
    nm = chip.design.tech_nm
    logic = sum(cells[k] for k in LOGIC_KEYS)
    bits = sum(cells[k] for k in SRAM_KEYS)
    extra_logic = chip.extra_reg_bits * scaled("a_dff_um2", nm) * 1e-6
    extra_bits = chip.extra_sram_kib * 8192 * scaled("a_sram_bitcell_um2", nm) * 1e-6
    ctl = 1.0 + value("control_fraction")
    out = {"compute": np.array([logic, 0.0, 0.0]),
           "total": np.array([ctl * (logic + extra_logic), ctl * (bits + extra_bits),
                              1e-6 * area_factor(nm)])}
    for k in ("act_sram", "weight_sram", "out_sram"):
        out[k] = np.array([0.0, cells[k], 0.0])
    return out


def predict(chip: Chip, calibration: Calibration | None = None) -> dict[str, float]:
    """Predicted mm2 of every block of ``chip`` (the stored calibration by default)."""
    cal = calibration or Calibration.stored()
    theta = np.array([cal.logic_layout, 1.0 / cal.sram_efficiency, cal.fixed_overhead_um2])
    return {b: float(v @ theta) for b, v in _basis(chip).items()}


def fit_area(chips=SILICON) -> Calibration:
    """Least squares on the relative error of every fitted block of ``chips``, with the
    three factors constrained >= 0 (exact: every active set is solved)."""
    rows, pub = [], []
    for chip in chips:
        basis = _basis(chip)
        for block in chip.fitted_blocks():
            rows.append(basis[block])
            pub.append(chip.published[block][0])
    a = np.array(rows) / np.array(pub)[:, None]
    b = np.ones(len(pub))
    best = None
    for free in itertools.product((True, False), repeat=3):
        cols = [i for i in range(3) if free[i]]
        if not cols:
            continue
        theta = np.zeros(3)
        theta[cols] = np.linalg.lstsq(a[:, cols], b, rcond=None)[0]
        if (theta < 0).any() or theta[0] == 0 or theta[1] == 0:
            continue
        err = float(np.sum((a @ theta - b) ** 2))
        if best is None or err < best[0]:
            best = (err, theta)
    if best is None:
        raise ValueError("the published blocks do not determine the calibration")
    k, s, fixed = best[1]
    return Calibration(float(k), float(1.0 / s), float(fixed))


@dataclass(frozen=True)
class Validation:
    """One published block: published mm2, in-sample fit and leave-one-out prediction."""

    chip: str
    block: str
    published: float
    fitted: float
    loo: float
    excluded: str

    @property
    def loo_ratio(self) -> float:
        return self.loo / self.published


def leave_one_out(chips=SILICON) -> list[Validation]:
    """For every chip: fit without it, predict its published blocks (excluded blocks are
    predicted with the all-chip fit, which never saw them either)."""
    full = fit_area(chips)
    out = []
    for chip in chips:
        loo = fit_area([c for c in chips if c is not chip]) if chip.fitted_blocks() else full
        fit_pred, loo_pred = predict(chip, full), predict(chip, loo)
        for block in BLOCKS:
            if block in chip.published:
                out.append(Validation(chip.name, block, chip.published[block][0],
                                      fit_pred[block], loo_pred[block],
                                      chip.excluded.get(block, "")))
    return out
