"""Fit the area calibration to published silicon, validate it leave-one-out, and check
energy per MAC against the published chips.

    python3 benchmarks/calibrate_area.py

Prints Markdown tables (pasted into docs/cost_model.md): the chips, the fitted factors
(compare with the stored ``cal_*`` constants in cost_models/tech.py), every published
block with its in-sample and leave-one-out ratio, and the energy-per-MAC check.
"""

from __future__ import annotations

import numpy as np

from cost_models.latency import mac_energy_pj
from cost_models.silicon import (
    SILICON,
    block_basis,
    fit_area,
    leave_one_out,
    onchip_pj_per_mac,
    predict,
)
from workloads import get_model


def chip_table() -> None:
    print("| chip | node | MACs (PEs x width, bits, style) | SRAM KiB (act / weight / out "
          "+ extra) | published total mm2 |")
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


def spread_table() -> None:
    """Why +-25% cannot hold: within one factor's blocks, published / uncalibrated cells
    must not spread by more than 1.25 / 0.75 = 1.67 for one factor to fit them all."""
    cal = fit_area()
    groups = {"logic (x cal_logic_layout)": [], "SRAM macros (x 1 / cal_sram_efficiency)": [],
              "fixed overhead (mm2 at 45 nm)": []}
    for c in SILICON:
        basis = block_basis(c)
        for block in c.fitted_blocks():
            if block == "total":
                p = predict(c, cal)
                fixed_now = cal.fixed_overhead_um2 * 1e-6
                rest = p["total"] - basis["total"][2] * cal.fixed_overhead_um2
                implied = (c.published["total"][0] - rest) / (basis["total"][2] * 1e6)
                groups["fixed overhead (mm2 at 45 nm)"].append((c.name, implied / fixed_now,
                                                                implied))
                continue
            v = basis[block]
            i = 0 if v[0] else 1
            groups[list(groups)[i]].append((f"{c.name} {block}",
                                            c.published[block][0] / v[i], None))
    print("\n| factor | published / uncalibrated model, per block | max / min |")
    print("|---|---|---|")
    for name, rows in groups.items():
        if name.startswith("fixed"):
            cells = ", ".join(f"{n} {mm2:.2f}" for n, _, mm2 in rows)
            vals = [mm2 for _, _, mm2 in rows]
        else:
            cells = ", ".join(f"{n} {r:.2f}" for n, r, _ in rows)
            vals = [r for _, r, _ in rows]
        pos = [x for x in vals if x > 0]
        spread = f"{max(pos) / min(pos):.2f}" if len(pos) == len(vals) else "negative"
        print(f"| {name} | {cells} | {spread} |")


def energy_layers(workload: str, which: str):
    """The layers an energy point runs: ``conv`` keeps AlexNet's feature convolutions,
    ``backbone`` drops the zoo model's early-exit branches."""
    layers = get_model(workload).layers
    if which == "conv":
        return [la for la in layers if la.name.startswith("features")]
    return [la for la in layers if "exit" not in la.name]


def energy_table() -> None:
    """Model on-chip energy per MAC (MACs + SRAM, no DRAM) against each published figure,
    the published figure moved to the model's reference supply (Stillmaker-Baas)."""
    print("\n| chip | node | workload (batch) | published pJ/MAC | at 0.9 V | model pJ/MAC "
          "(MAC + SRAM) | model / published at 0.9 V | published figure |")
    print("|---|---|---|---|---|---|---|---|")
    for c in SILICON:
        if c.energy is None:
            continue
        e = c.energy
        model = onchip_pj_per_mac(c.design, energy_layers(e.workload, e.layers), e.batch)
        nm = c.design.tech_nm
        at_ref = e.at_ref_vdd(nm)
        mac_share = mac_energy_pj(c.design) / model
        print(f"| {c.name} | {nm:g} nm | {e.workload} {e.layers} ({e.batch}) | "
              f"{e.pj_per_mac:.3f} | {at_ref:.3f} | {model:.3f} ({mac_share:.0%} MAC) | "
              f"{model / at_ref:.2f} | {e.where} |")


if __name__ == "__main__":
    chip_table()
    loo_table()
    spread_table()
    energy_table()
