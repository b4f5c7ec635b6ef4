"""Published accelerator silicon, the area calibration fitted to it, and its validation.

:data:`SILICON` lists real accelerators at several nodes, each described as an
:class:`NpuDesign` plus what our PE model has no field for (register-file buffers, extra
SRAM, published areas of blocks outside the PE model), with its published areas (mm2),
where in the source each number is, and its published energy per MAC.
:func:`fit_area` fits the three :class:`Calibration` factors; :func:`leave_one_out` refits
without each chip in turn and predicts it.  ``python3 benchmarks/calibrate_area.py``
prints the tables of docs/cost_model.md.

Blocks compared: ``compute`` (multipliers + adder trees + PE registers + stacking and
P-batching hardware), ``act_sram``, ``weight_sram``, ``out_sram``, ``act_weight_sram``
(one scratchpad holding activations and weights) and ``total``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from cost_models.area import LOGIC_KEYS, SRAM_KEYS, Calibration, cell_areas, register_file_mm2
from cost_models.design import NpuDesign
from cost_models.latency import latency_table
from cost_models.tech import area_factor, energy_factor, scaled, value

BLOCKS = ("compute", "act_sram", "weight_sram", "out_sram", "act_weight_sram", "total")


class RegisterFile(NamedTuple):
    """``count`` register files of ``entries`` x ``width_bits`` (flip-flops + read mux).
    ``block`` names the published SRAM block it implements, or is empty for a buffer
    outside the PE model (added to the total only)."""

    block: str
    count: int
    entries: int
    width_bits: int


class EnergyPoint(NamedTuple):
    """A published on-chip energy per MAC (pJ) measured at ``vdd`` volts (``None``: not
    stated, taken at the model's reference supply), reproduced by running ``workload``
    (zoo model; ``backbone`` drops early-exit branches, ``conv`` keeps convolutions) at
    batch ``batch`` with R-batching."""

    pj_per_mac: float
    vdd: float | None
    workload: str
    layers: str
    batch: int
    where: str

    def at_ref_vdd(self, tech_nm: float) -> float:
        """The published pJ/MAC moved to the model's reference supply (Stillmaker-Baas)."""
        if self.vdd is None:
            return self.pj_per_mac
        return self.pj_per_mac * energy_factor(tech_nm) / energy_factor(tech_nm, self.vdd)


@dataclass(frozen=True)
class Chip:
    """One published accelerator.

    published: block -> (mm2, where in the source); excluded: block -> why it is shown
    but not fitted; register_files: buffers built from flip-flops; extra_sram_kib: SRAM
    outside the PE model; known_mm2: published areas of blocks outside the PE model that
    the published total includes (added to the predicted total as published); mapping:
    how the architecture was mapped onto an :class:`NpuDesign`.
    """

    name: str
    source: str
    design: NpuDesign
    published: dict[str, tuple[float, str]]
    mapping: str
    register_files: tuple[RegisterFile, ...] = ()
    extra_sram_kib: float = 0.0
    known_mm2: dict[str, tuple[float, str]] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)
    energy: EnergyPoint | None = None

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
_GEMMINI = ("Genc et al., 'Gemmini: enabling systematic deep-learning architecture evaluation "
            "via full-stack integration', DAC 2021")
_SIMBA = ("Zimmer et al., VLSI Symposium 2019 and JSSC 55(4) 2020; Venkatesan et al., "
          "Hot Chips 2019; Shao et al., 'Simba', MICRO 2019")
_NVDLA = ("NVDLA Primer, 'Example Area and Performance with NVDLA' table (nvdla.org, "
          "github.com/nvdla/doc, doc/primer.rst); hardware architectural specification")
_EXYNOS = ("Park et al., 'A 6K-MAC feature-map-sparsity-aware neural processing unit in 5nm "
           "flagship mobile SoC', ISSCC 2021 (paper 9.5); Jang et al., ISCA 2021")
_TPU_DIE = 331.0   # mm2, upper bound "< 331" of Table 2; the floor-plan shares are of it
_NVDLA_CELL = ("synthesis cell area estimate, 16 nm column (all memories included; "
               "NVIDIA notes real area varies with foundry and library)")

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
        "NFU = 16 adder-tree PEs (Tn) of 16 16-bit multipliers (Ti); SB = weight SRAM (32 KB); "
        "NBin / NBout are 2 KB register files read 256 bits wide (Table 6's per-type split "
        "lists 1,158,000 um2 of memory macros, i.e. SB alone); CP, DMA and AXI = fixed "
        "overhead",
        register_files=(RegisterFile("act_sram", 1, 64, 256),
                        RegisterFile("out_sram", 1, 64, 256)),
        energy=EnergyPoint(485e-3 / (452e9 / 2) * 1e12, None, "alexnet", "conv", 4,
                           "abstract: 452 GOP/s (2 ops per MAC) at 485 mW, post-layout "
                           "65 nm, peak; supply not stated")),
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
        "SRAM (73.5 KiB); the ifmap (12 x 16 b) and psum (24 x 16 b) scratch pads are "
        "register files; the NoC and RLC codecs are not modelled",
        register_files=(RegisterFile("", 168, 12, 16), RegisterFile("", 168, 24, 16)),
        energy=EnergyPoint(278e-3 / (35 * 666e6) * 1e12, 1.0, "alexnet", "conv", 4,
                           "abstract: AlexNet CONV layers (666M MACs per image) at 35 "
                           "frames/s and 278 mW, batch 4; 200 MHz, 1 V (results section)")),
    Chip(
        "tpu_v1", _TPU,
        _design(pe_count=256, pe_width=256, tile_rows=256, batching="r", max_batch=32,
                pe_style="systolic", act_sram_kib=24576, weight_sram_kib=256,
                out_sram_kib=4096, precision_bits=8, clock_mhz=700, tech_nm=28),
        {"compute": (0.24 * _TPU_DIE, "Figure 2 floor plan: Matrix Multiply Unit 24% of "
                                      "the < 331 mm2 die (Table 2)"),
         "act_sram": (0.29 * _TPU_DIE, "Figure 2: Unified Buffer (24 MiB) 29% of chip"),
         "out_sram": (0.06 * _TPU_DIE, "Figure 2: Accumulators (4 MiB) 6%"),
         "total": (_TPU_DIE, "Table 2: die < 331 mm2 at 28 nm ('less than half the "
                             "Haswell die'; the bound is used)")},
        "256x256 int8 weight-stationary systolic array; unified buffer = act SRAM, "
        "accumulators = out SRAM, weight FIFO (4 x 64 KiB) = weight SRAM; the floor plan "
        "leaves 21% of the die unlabelled",
        known_mm2={"activation pipeline": (0.06 * _TPU_DIE, "Figure 2: 6%"),
                   "host interface": (0.02 * _TPU_DIE, "Figure 2: 2%"),
                   "PCIe interface": (0.03 * _TPU_DIE, "Figure 2: 3%"),
                   "DDR3 ports": (0.06 * _TPU_DIE, "Figure 2: 3% + 3%"),
                   "misc. I/O": (0.01 * _TPU_DIE, "Figure 2: 1%")}),
    Chip(
        "gemmini", _GEMMINI,
        _design(pe_count=16, pe_width=16, pe_style="systolic", act_sram_kib=128,
                weight_sram_kib=128, out_sram_kib=64, precision_bits=8, clock_mhz=1000,
                tech_nm=22),
        {"compute": (0.116, "Figure 6(a): Spatial Array (16x16) 116K um2"),
         "act_weight_sram": (0.544, "Figure 6(a): Scratchpad (256 KB) 544K um2"),
         "out_sram": (0.146, "Figure 6(a): Accumulator (64 KB) 146K um2"),
         "total": (1.029, "Figure 6(a): total 1,029K um2 (Intel 22FFL, Genus + Innovus)")},
        "16x16 int8 weight-stationary systolic array with 32-bit accumulation; the 256 KB "
        "scratchpad holds activations and weights (128 + 128 KiB); the 64 KB accumulator = "
        "out SRAM",
        known_mm2={"Rocket host CPU": (0.171, "Figure 6(a): CPU (Rocket, 1 core) 171K um2")}),
    Chip(
        "simba", _SIMBA,
        _design(pe_count=128, pe_width=8, tile_rows=96, act_sram_kib=192,
                weight_sram_kib=512, out_sram_kib=48, precision_bits=8, clock_mhz=2000,
                tech_nm=16),
        {"total": (6.0, "Hot Chips 2019 abstract: 'The 6 mm^2 chip was implemented in "
                        "16nm'")},
        "16 PEs x 8 vector MACs of width 8 = 128 adder-tree PEs of width 8 (4 TOPS peak at "
        "2 GHz); weight (16 x 32 KB), input (16 x 8 KB + 64 KB global PE) and accumulation "
        "(16 x 3 KB) buffers = weight / act / out SRAM (MICRO 2019); weights stay in the "
        "vector MACs while the accumulation buffers hold the partial sums (tile_rows 96 = "
        "48 KiB / (128 x 4 B)); the RISC-V controller, "
        "NoC/NoP routers and GRS transceivers are not modelled and have no published area",
        excluded={"total": "the 6 mm2 is the die with its pad ring, PLL and eight "
                           "ground-referenced-signalling transceivers, whose areas are not "
                           "published; the only smaller figure (4.01 TOPS at 1.29 TOPS/mm2 "
                           "= 3.1 mm2) does not say what it covers"},
        energy=EnergyPoint(2 * 0.11, None, "resnet50", "backbone", 1,
                           "VLSI 2019 abstract: 0.11 pJ/op, its best point; the abstract "
                           "does not state the supply (a low-voltage point would be "
                           "several times higher at 0.9 V)")),
    Chip(
        "nvdla_small", _NVDLA,
        _design(pe_count=8, pe_width=8, tile_rows=32, act_sram_kib=64, weight_sram_kib=64,
                out_sram_kib=1, precision_bits=8, clock_mhz=1000, tech_nm=16),
        {"total": (0.55, "Primer table, row 64 MACs / 128 KB: " + _NVDLA_CELL)},
        "the small example (int8, Atomic-C = Atomic-K = 8, 32 banks x 4 KB convolution "
        "buffer): 8 adder-tree PEs of width 8; the 128 KB convolution buffer holds "
        "activations and weights (64 + 64 KiB); weights stay in the MAC cells for a stripe "
        "of up to 32 output points (tile_rows 32), whose 32-bit sums the accumulator holds "
        "(1 KiB for 8 kernels); the single-point / planar / channel data processors and "
        "the DMA engines are not modelled",
        energy=EnergyPoint(21e-3 / (7.3 * 4.089e9) * 1e12, None, "resnet50", "backbone", 1,
                           "Primer table: int8 ResNet-50 at 7.3 frames/s, average 21 mW "
                           "(16 nm, 1 GHz, estimate)")),
    Chip(
        "nvdla_large", _NVDLA,
        _design(pe_count=32, pe_width=64, tile_rows=32, act_sram_kib=256,
                weight_sram_kib=256, out_sram_kib=20, precision_bits=8, clock_mhz=1000,
                tech_nm=16),
        {"total": (3.3, "Primer table, row 2048 MACs / 512 KB: " + _NVDLA_CELL)},
        "the large example (Atomic-C 64, 16 x 32 KB convolution buffer): 2048 int8 MACs = "
        "32 adder-tree PEs of width 64; the 512 KB buffer = act + weight SRAM (256 + 256 "
        "KiB); stripes of up to 32 output points (tile_rows 32); the accumulator's assembly "
        "SRAM group (4 x 96 B x 32 + 4 x 64 B x 32 = 20 KiB, unit description) = out SRAM; "
        "its INT16/FP16 MAC support, Winograd, the post-processing engines and the DMA "
        "engines are not modelled",
        energy=EnergyPoint(291e-3 / (269 * 4.089e9) * 1e12, None, "resnet50", "backbone", 1,
                           "Primer table: int8 ResNet-50 at 269 frames/s, average 291 mW "
                           "(16 nm, 1 GHz, estimate)")),
    Chip(
        "exynos_npu_5nm", _EXYNOS,
        _design(pe_count=384, pe_width=16, act_sram_kib=1536, weight_sram_kib=1536,
                out_sram_kib=1.5, precision_bits=8, clock_mhz=1196, tech_nm=5),
        {"total": (5.46, "ISSCC 2021 9.5: NPU area 5.46 mm2, 5 nm")},
        "3 cores x 2 convolution engines of 16-wide adder-tree dot products (6144 int8 "
        "MACs) = 384 PEs of width 16; the 3 x 1 MB tightly-coupled memories = act + weight "
        "SRAM (1.5 MiB each); accumulators not published (minimum out SRAM); the control "
        "CPU, three vector processing units and the feature-map compressors are not "
        "modelled",
        excluded={"total": "5 nm is outside the Stillmaker-Baas table (the 10-7 nm segment "
                           "is extrapolated)"},
        energy=EnergyPoint(2 / 13.6, None, "resnet50", "backbone", 1,
                           "ISCA 2021 abstract: 13.6 TOPS/W on Inception-v3 int8, one "
                           "core, zero skipping counted as work (ResNet-50 run here)")),
)


def onchip_pj_per_mac(design: NpuDesign, layers, batch: int) -> float:
    """Model on-chip energy per MAC (pJ: MACs + SRAM traffic, DRAM excluded) of ``layers``
    at batch ``batch`` with R-batching."""
    d = replace(design, batching="r", max_batch=batch)
    t = latency_table(d, layers)
    macs = sum(la.rows * la.reduction * la.cols * la.groups for la in layers) * batch
    dram_pj = t.dram_bytes[:, batch].sum() * scaled("e_dram_64b_pj", d.tech_nm) / 8.0
    return (t.energy_uj[:, batch].sum() * 1e6 - dram_pj) / macs


def block_basis(chip: Chip) -> dict[str, np.ndarray]:
    """Per block, the coefficients of (logic_layout, 1 / sram_efficiency, fixed um2) and
    a constant (published known areas): every predicted area is linear in them."""
    d = chip.design
    nm = d.tech_nm
    cells = cell_areas(d)
    rf = {k: 0.0 for k in ("", "act_sram", "weight_sram", "out_sram")}
    for r in chip.register_files:
        rf[r.block] += r.count * register_file_mm2(r.entries, r.width_bits, nm)
    out = {"compute": np.array([sum(cells[k] for k in LOGIC_KEYS), 0.0, 0.0, 0.0])}
    for k in ("act_sram", "weight_sram", "out_sram"):
        out[k] = np.array([rf[k], 0.0, 0.0, 0.0]) if rf[k] else np.array(
            [0.0, cells[k], 0.0, 0.0])
    out["act_weight_sram"] = out["act_sram"] + out["weight_sram"]
    tile_and_lut = sum(cells[k] for k in SRAM_KEYS if k not in out)
    extra_bits = chip.extra_sram_kib * 8192 * scaled("a_sram_bitcell_um2", nm) * 1e-6
    pe_model = (out["compute"] + out["act_sram"] + out["weight_sram"] + out["out_sram"]
                + np.array([rf[""], tile_and_lut + extra_bits, 0.0, 0.0]))
    known = sum(mm2 for mm2, _ in chip.known_mm2.values())
    out["total"] = ((1.0 + value("control_fraction")) * pe_model
                    + np.array([0.0, 0.0, 1e-6 * area_factor(nm), known]))
    return out


def predict(chip: Chip, calibration: Calibration | None = None) -> dict[str, float]:
    """Predicted mm2 of every block of ``chip`` (the stored calibration by default)."""
    cal = calibration or Calibration.stored()
    theta = np.array([cal.logic_layout, 1.0 / cal.sram_efficiency, cal.fixed_overhead_um2,
                      1.0])
    return {b: float(v @ theta) for b, v in block_basis(chip).items()}


def fit_area(chips=SILICON) -> Calibration:
    """Least squares on the relative error of every fitted block of ``chips``, with the
    three factors constrained >= 0 (exact: every active set is solved)."""
    rows, pub = [], []
    for chip in chips:
        basis = block_basis(chip)
        for block in chip.fitted_blocks():
            rows.append(basis[block])
            pub.append(chip.published[block][0])
    m = np.array(rows) / np.array(pub)[:, None]
    a, b = m[:, :3], 1.0 - m[:, 3]
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
