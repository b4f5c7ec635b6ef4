"""Fit the area calibration to published silicon and validate it leave-one-out.

    python3 benchmarks/calibrate_area.py

Prints Markdown tables (pasted into docs/cost_model.md): the chips, the fitted factors
(compare with the stored ``cal_*`` constants in cost_models/tech.py), every published
block with its in-sample and leave-one-out ratio, and the energy-per-MAC check.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cost_models import latency_table
from cost_models.silicon import SILICON, fit_area, leave_one_out
from cost_models.tech import scaled
from workloads import get_model


def chip_table() -> None:
    print("| chip | node | MACs (PEs x width, bits) | SRAM KiB (act / weight / out + extra) "
          "| published total mm2 |")
    print("|---|---|---|---|---|")
    for c in SILICON:
        d = c.design
        extra = f" + {c.extra_sram_kib:g}" if c.extra_sram_kib else ""
        print(f"| {c.name} | {d.tech_nm:g} nm | {d.pe_count * d.pe_width} ({d.pe_count} x "
              f"{d.pe_width}, {d.precision_bits} b, {d.pe_style}) | {d.act_sram_kib:g} / "
              f"{d.weight_sram_kib:g} / {d.out_sram_kib:g}{extra} | "
              f"{c.published['total'][0]:g} |")


def loo_table() -> None:
    cal = fit_area()
    print(f"\nfit on every chip: logic_layout {cal.logic_layout:.4g}, sram_efficiency "
          f"{cal.sram_efficiency:.4g}, fixed_overhead {cal.fixed_overhead_um2 * 1e-6:.4g} "
          f"mm2 at 45 nm\n")
    print("| chip | block | published mm2 | fit / published | leave-one-out / published "
          "| note |")
    print("|---|---|---|---|---|---|")
    rows = leave_one_out()
    for v in rows:
        note = "not fitted: " + v.excluded if v.excluded else ""
        print(f"| {v.chip} | {v.block} | {v.published:.3f} | {v.fitted / v.published:.2f} "
              f"| {v.loo_ratio:.2f} | {note} |")
    fitted = [v for v in rows if not v.excluded]
    inside = sum(0.75 <= v.loo_ratio <= 1.25 for v in fitted)
    worst = max(fitted, key=lambda v: abs(np.log(v.loo_ratio)))
    print(f"\n{inside} of {len(fitted)} fitted blocks within +-25% leave-one-out; worst "
          f"{worst.chip} {worst.block} at {worst.loo_ratio:.2f}")


def energy_table() -> None:
    """Model energy per MAC (on chip: MACs + SRAM, no DRAM) on AlexNet's CONV layers."""
    layers = [la for la in get_model("alexnet").layers if la.name.startswith("features")]
    macs_per_sample = sum(la.rows * la.reduction * la.cols * la.groups for la in layers)
    print("\n| chip | node | published pJ/MAC | model pJ/MAC (AlexNet CONV, batch 4) "
          "| published / model | published figure |")
    print("|---|---|---|---|---|---|")
    for c in SILICON:
        if c.energy_pj_per_mac is None:
            continue
        d = replace(c.design, batching="r", max_batch=4)
        t = latency_table(d, layers)
        dram_pj = t.dram_bytes[:, 4].sum() * scaled("e_dram_64b_pj", d.tech_nm) / 8.0
        on_chip = t.energy_uj[:, 4].sum() * 1e6 - dram_pj
        model = on_chip / (4 * macs_per_sample)
        pub, where = c.energy_pj_per_mac
        print(f"| {c.name} | {d.tech_nm:g} nm | {pub:.3f} | {model:.3f} | {pub / model:.2f} "
              f"| {where} |")


if __name__ == "__main__":
    chip_table()
    loo_table()
    energy_table()
