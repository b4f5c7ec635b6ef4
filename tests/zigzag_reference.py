"""Cross-check of the adder-tree latency model against ZigZag (PyPI ``zigzag-dse`` 3.9).

ZigZag (Mei, Houshmand, Jain, Giraldo, Verhelst, IEEE Trans. Computers 2021) evaluates one
layer on an accelerator described as a MAC array plus a memory hierarchy: it searches the
loop order (LOMA) for the given spatial mapping and reports cycles including stalls from
every memory port's bandwidth.  We describe our adder-tree array in its format, give it our
spatial mapping, and compare its latency with ours on single layers at batch 1 (no
stacking, no batching).

    python3 tests/zigzag_reference.py          # prints the docs/cost_model.md table

The accelerator, per design: a D1 x D2 = pe_count x pe_width MAC array;
* ``weight_regs`` (I2): one per PE (served over D2), 2 x pe_width weights (double
  buffered), refilled at one weight per cycle per PE (T_C weights per cycle in all);
* ``input_regs`` (I1): one per multiplier, fed by the activation SRAM, so each PE group can
  receive its own input row (the block-diagonal placement of grouped layers);
* ``acc_regs`` (O): one 32-bit accumulator per PE, reduced over D2 (the adder tree);
* ``out_sram`` (O, partial sums): the T_R x T_C accumulator tile our model uses (T_R =
  ``effective_tile_rows``), pe_count accumulators per cycle each way;
* ``weight_sram`` (I2): weight_sram_kib, read at pe_count weights per cycle;
* ``act_sram`` (I1 and final O) and ``dram`` (everything, the top level).
On-chip SRAM bandwidths other than the weight-refill path are unbounded, as in our model.

Layers are given to ZigZag as their GEMM ``O[g][r][k] += W[g][k][c] * I[g][r][c]`` (G groups,
R rows, K = C output channels, C = P reduction), the same im2col view our model takes.
Spatial mapping: D1 unrolls min(C, T_C) output channels and, when C < T_C, floor(T_C / C)
groups; D2 unrolls min(P, T_P) of the reduction.

Two comparisons per layer:
* compute: DRAM and SRAM bandwidths unbounded, against our ``compute_cycles``;
* total: DRAM at the design's bandwidth, against our ``cycles`` minus the fixed per-layer
  overhead (which ZigZag does not model).  Operands that our model keeps on chip (inputs
  and outputs that fit half the activation SRAM) are kept on chip in ZigZag too (its
  ``act_sram`` is their top level, sized to hold them).  Only comparable when ZigZag's
  input is the real input: the im2col matrix of a k x k or strided conv is larger than the
  input tensor that our model reads from DRAM, and the second operand of an attention
  matmul lives in our activation SRAM, not the weight SRAM.
"""

from __future__ import annotations

import logging
import math
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from cost_models import NpuDesign, latency_table, load_npu  # noqa: E402
from cost_models.latency import effective_tile_rows  # noqa: E402
from cost_models.layers import Layer  # noqa: E402
from cost_models.tech import value  # noqa: E402

DESIGNS = ROOT / "cost_models" / "designs"
ARRAYS = ("edge_small", "npu_wide")
# (model, layer): depthwise, FC, small-spatial (late) and dense layers of the zoo.
LAYERS = (
    ("mobilenetv2", "features.0"),
    ("mobilenetv2", "features.2.expand"),
    ("mobilenetv2", "features.4.dw"),
    ("mobilenetv2", "features.7.dw"),
    ("mobilenetv2", "features.14.dw"),
    ("mobilenetv2", "features.17.dw"),
    ("mobilenetv2", "features.17.project"),
    ("mobilenetv2", "features.18"),
    ("mobilenetv2", "classifier"),
    ("resnet50", "conv1"),
    ("resnet50", "layer1.0.conv2"),
    ("resnet50", "layer3.0.conv2"),
    ("resnet50", "layer4.0.conv2"),
    ("resnet50", "layer4.0.conv3"),
    ("resnet50", "fc"),
    ("bert_base", "encoder.0.ffn1"),
    ("bert_base", "encoder.0.scores"),
    ("bert_base", "encoder.0.context"),
    ("bert_base", "exit1/classifier"),
    ("alexnet", "classifier.4"),
    ("msdnet", "exit1/conv2"),
    ("msdnet", "layer0.s0.same.conv"),
)
_UNBOUNDED = 1 << 30  # bits per cycle


def zoo_layers(names=LAYERS) -> list[Layer]:
    """The comparison layers, taken from the workload zoo."""
    from workloads import get_model

    out = []
    for model, name in names:
        by_name = {ly.name: ly for ly in get_model(model).layers}
        out.append(replace(by_name[name], name=f"{model}/{name}"))
    return out


def _port(name, kind, bits, alloc):
    return {"name": name, "type": kind, "bandwidth_min": min(8, bits), "bandwidth_max": bits,
            "allocation": alloc}


def _mem(bits, operands, ports, served):
    return {"size": int(bits), "r_cost": 1.0, "w_cost": 1.0, "area": 0.0, "latency": 1,
            "operands": operands, "ports": ports, "served_dimensions": served}


def _accelerator(d: NpuDesign, dram_bits: int, dram_ops: tuple[str, ...],
                 act_bits: int) -> dict:
    tc, tp, bits = d.pe_count, d.pe_width, d.precision_bits
    acc = int(value("acc_bits"))
    big = _UNBOUNDED
    o4 = ["O, tl", "O, th", "O, fh", "O, fl"]
    mems = {
        "weight_regs": _mem(2 * tp * bits, ["I2"], [
            _port("r_port_1", "read", tp * bits, ["I2, tl"]),
            _port("w_port_1", "write", bits, ["I2, fh"])], ["D2"]),
        "input_regs": _mem(2 * bits, ["I1"], [
            _port("r_port_1", "read", bits, ["I1, tl"]),
            _port("w_port_1", "write", bits, ["I1, fh"])], []),
        "acc_regs": _mem(2 * acc, ["O"], [
            _port("r_port_1", "read", acc, ["O, tl"]), _port("r_port_2", "read", acc, ["O, th"]),
            _port("w_port_1", "write", acc, ["O, fh"]), _port("w_port_2", "write", acc, ["O, fl"])],
            ["D2"]),
        "out_sram": _mem(effective_tile_rows(d) * tc * acc, ["O"], [
            _port("r_port_1", "read", tc * acc, ["O, tl"]), _port("r_port_2", "read", big, ["O, th"]),
            _port("w_port_1", "write", tc * acc, ["O, fh"]),
            _port("w_port_2", "write", big, ["O, fl"])], ["D1", "D2"]),
        "weight_sram": _mem(d.weight_sram_kib * 8192, ["I2"], [
            _port("r_port_1", "read", tc * bits, ["I2, tl"]),
            _port("w_port_1", "write", big, ["I2, fh"])], ["D1", "D2"]),
        "act_sram": _mem(act_bits, ["I1", "O"], [
            _port("r_port_1", "read", big, ["I1, tl", "O, tl", "O, th"]),
            _port("w_port_1", "write", big, ["I1, fh", "O, fh", "O, fl"])], ["D1", "D2"]),
        "dram": _mem(1 << 50, list(dram_ops), [_port("rw_port_1", "read_write", dram_bits, [
            a for op in dram_ops for a in ([f"{op}, tl", f"{op}, fh"] if op != "O" else o4)])],
            ["D1", "D2"]),
    }
    return {"name": f"adder_tree_{tc}x{tp}", "memories": mems,
            "operational_array": {"input_precision": [bits, bits], "unit_energy": 1.0,
                                  "unit_area": 1.0, "dimensions": ["D1", "D2"],
                                  "sizes": [tc, tp]}}


def _workload(ly: Layer, bits: int) -> list[dict]:
    return [{"id": 0, "name": "layer", "operator_type": "Gemm",
             "equation": "O[g][r][k]+=W[g][k][c]*I[g][r][c]",
             "loop_dims": ["G", "R", "K", "C"],
             "loop_sizes": [ly.groups, ly.rows, ly.cols, ly.reduction],
             "operand_precision": {"I": bits, "W": bits, "O": int(value("acc_bits")),
                                   "O_final": bits},
             "operand_source": {"I": 0}}]


def _mapping(ly: Layer, d: NpuDesign) -> list[dict]:
    d1 = []
    if ly.cols > 1:
        d1.append(f"K, {min(ly.cols, d.pe_count)}")
    if ly.groups > 1 and ly.cols < d.pe_count:
        d1.append(f"G, {min(ly.groups, d.pe_count // ly.cols)}")
    spatial = {"D1": d1, "D2": [f"C, {min(ly.reduction, d.pe_width)}"]} if d1 else {
        "D2": [f"C, {min(ly.reduction, d.pe_width)}"]}
    links = {"O": "O", "W": "I2", "I": "I1"}
    return [{"name": n, "spatial_mapping": spatial, "memory_operand_links": links}
            for n in ("layer", "default")]


def _residency(d: NpuDesign, ly: Layer) -> tuple[bool, bool]:
    """(input spills, output spills) to DRAM at batch 1 in our model."""
    bpe = d.precision_bits // 8
    half = int(d.act_sram_kib * 1024) // 2
    in_bytes = ly.in_elems * bpe + (0 if ly.weights_shared else ly.weight_elems * bpe)
    return in_bytes > half, ly.out_elems * bpe > half


def total_comparable(d: NpuDesign, ly: Layer) -> str:
    """'' when the total (with DRAM) is comparable, else the reason it is not."""
    if not ly.weights_shared:
        return "2nd operand is an activation"
    in_spill, _ = _residency(d, ly)
    if in_spill and ly.rows * ly.reduction * ly.groups != ly.in_elems:
        return "im2col input > input tensor"
    return ""


def zigzag_cycles(d: NpuDesign, ly: Layer, *, with_dram: bool) -> float:
    """ZigZag's latency (cycles, ``latency_total2``) of ``ly`` at batch 1 on ``d``."""
    import yaml
    from zigzag.api import get_hardware_performance_zigzag

    bits = d.precision_bits
    im2col_bits = (ly.rows * ly.reduction * ly.groups + ly.out_elems) * bits
    if with_dram:
        in_spill, out_spill = _residency(d, ly)
        ops = ("I1",) * in_spill + ("I2",) + ("O",) * out_spill
        dram_bits = int(d.dram_gbps * 1e9 / (d.clock_mhz * 1e6) * 8)
        act_bits = max(int(d.act_sram_kib * 8192), im2col_bits)
    else:
        ops, dram_bits, act_bits = ("I1", "I2", "O"), _UNBOUNDED, int(d.act_sram_kib * 8192)
    logging.disable(logging.CRITICAL)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            acc_path, map_path = Path(tmp, "accelerator.yaml"), Path(tmp, "mapping.yaml")
            acc_path.write_text(yaml.safe_dump(_accelerator(d, dram_bits, ops, act_bits),
                                               sort_keys=False))
            map_path.write_text(yaml.safe_dump(_mapping(ly, d), sort_keys=False))
            _, _, cmes = get_hardware_performance_zigzag(
                _workload(ly, bits), str(acc_path), str(map_path), opt="latency",
                dump_folder=str(Path(tmp, "out")), loma_show_progress_bar=False)
    finally:
        logging.disable(logging.NOTSET)
    return float(cmes[0][1][0][0].latency_total2)


def compare(design: NpuDesign, layers) -> list[dict]:
    """One row per layer: our and ZigZag's compute and total cycles at batch 1."""
    d = replace(design, stack_factors=(1,), batching="none", max_batch=1).validated()
    t = latency_table(d, layers)
    overhead = int(value("layer_overhead_cycles"))
    rows = []
    for i, ly in enumerate(layers):
        why = total_comparable(d, ly)
        row = {"layer": ly.name, "R": ly.rows, "P": ly.reduction, "C": ly.cols,
               "G": ly.groups, "ours_compute": int(t.compute_cycles[i, 1]),
               "zigzag_compute": zigzag_cycles(d, ly, with_dram=False),
               "ours_total": int(t.cycles[i, 1]) - overhead,
               "zigzag_total": None if why else zigzag_cycles(d, ly, with_dram=True),
               "not_comparable": why}
        row["compute_ratio"] = row["ours_compute"] / row["zigzag_compute"]
        row["total_ratio"] = (None if why else row["ours_total"] / row["zigzag_total"])
        rows.append(row)
    return rows


def markdown(design_name: str, rows: list[dict]) -> str:
    """The comparison as a markdown table (the docs/cost_model.md format)."""
    lines = [f"**{design_name}**", "",
             "| layer | R | P | C | G | ours compute | ZigZag compute | ratio "
             "| ours total | ZigZag total | ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tot = (f"{r['ours_total']} | {r['zigzag_total']:.0f} | {r['total_ratio']:.3f}"
               if r["total_ratio"] is not None
               else f"{r['ours_total']} | - | ({r['not_comparable']})")
        lines.append(f"| {r['layer']} | {r['R']} | {r['P']} | {r['C']} | {r['G']} | "
                     f"{r['ours_compute']} | {r['zigzag_compute']:.0f} | "
                     f"{r['compute_ratio']:.3f} | {tot} |")
    return "\n".join(lines)


def main() -> None:
    layers = zoo_layers()
    for name in ARRAYS:
        d = load_npu(DESIGNS / f"{name}.toml")
        rows = compare(d, layers)
        print(markdown(f"{name}: {d.pe_count} PEs x {d.pe_width}-wide, "
                       f"{d.dram_gbps:g} GB/s at {d.clock_mhz:g} MHz", rows))
        cr = [r["compute_ratio"] for r in rows]
        tr = [r["total_ratio"] for r in rows if r["total_ratio"] is not None]
        print(f"\ncompute ratio min {min(cr):.3f} max {max(cr):.3f} "
              f"geomean {math.exp(sum(map(math.log, cr)) / len(cr)):.3f}; "
              f"total ratio ({len(tr)} layers) min {min(tr):.3f} max {max(tr):.3f}\n")


if __name__ == "__main__":
    main()
