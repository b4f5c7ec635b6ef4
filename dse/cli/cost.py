"""``dse cost``: per-layer latency, FBE mode, area and energy of one design."""

from __future__ import annotations

import json

from cost_models import area_breakdown, latency_table, load_npu, load_topology
from dse.common import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cost", help="latency, FBE modes, area and energy of a design on a layer list",
        description="Per-layer latency table of NPU.toml on a SCALE-Sim topology CSV or a "
                    "zoo model, for one batch size.")
    p.add_argument("--npu", required=True, metavar="NPU.toml", help="design file ([npu] table)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--topology", metavar="FILE.csv", help="SCALE-Sim topology CSV")
    src.add_argument("--model", metavar="NAME", help="zoo model name (see `dse workloads`)")
    p.add_argument("--gemm", action="store_true",
                   help="the topology CSV is in GEMM format (Layer name, M, N, K)")
    p.add_argument("--batch", type=int, default=1, metavar="B",
                   help="batch size, 1..max_batch (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def report(design, layers, batch: int, exit_layers=None) -> dict:
    """The ``dse cost --json`` object for ``layers`` at batch ``batch``."""
    if not 1 <= batch <= design.max_batch:
        raise InputError(f"must be in 1..{design.max_batch} (the design's max_batch), "
                         f"got {batch}", field="--batch")
    t = latency_table(design, layers)
    b = batch
    rows = []
    for i, ly in enumerate(layers):
        rows.append({
            "name": ly.name,
            "compute_cycles": int(t.compute_cycles[i, b]),
            "total_cycles": int(t.cycles[i, b]),
            "latency_ms": float(t.ms[i, b]),
            "mode": {"b_r": int(t.modes[i, b, 0]), "b_p": int(t.modes[i, b, 1]),
                     "k": int(t.modes[i, b, 2])},
            "utilisation": float(t.utilisation[i, b]),
            "dram_bytes": int(t.dram_bytes[i, b]),
            "energy_uj": float(t.energy_uj[i, b]),
        })
    out = {
        "batch": b,
        "layers": rows,
        "total_cycles": int(t.cycles[:, b].sum()),
        "latency_ms": float(t.ms[:, b].sum()),
        "area_mm2": area_breakdown(design),
        "energy_uj": float(t.energy_uj[:, b].sum()),
        "dram_bytes": int(t.dram_bytes[:, b].sum()),
    }
    if exit_layers is not None:
        exits = []
        for e, last in enumerate(exit_layers):
            exits.append({"exit": e, "last_layer": int(last),
                          "cumulative_cycles": int(t.cycles[:last + 1, b].sum()),
                          "cumulative_latency_ms": float(t.ms[:last + 1, b].sum())})
        out["exits"] = exits
    return out


def _table(out: dict, title: str) -> str:
    lines = [title,
             f"{'layer':<24} {'compute':>11} {'total':>11} {'ms':>9} {'b_r':>4} {'b_p':>4} "
             f"{'k':>3} {'util':>6}"]
    for r in out["layers"]:
        m = r["mode"]
        lines.append(f"{r['name'][:24]:<24} {r['compute_cycles']:>11} {r['total_cycles']:>11} "
                     f"{r['latency_ms']:>9.4f} {m['b_r']:>4} {m['b_p']:>4} {m['k']:>3} "
                     f"{r['utilisation']:>6.1%}")
    lines.append(f"{'total':<24} {'':>11} {out['total_cycles']:>11} {out['latency_ms']:>9.4f}")
    for e in out.get("exits", []):
        lines.append(f"exit {e['exit']} (after layer {e['last_layer']}): "
                     f"{e['cumulative_latency_ms']:.4f} ms")
    area = out["area_mm2"]
    parts = ", ".join(f"{k} {v:.3f}" for k, v in area.items() if k != "total" and v > 0)
    lines.append(f"area {area['total']:.3f} mm2 ({parts})")
    lines.append(f"energy {out['energy_uj']:.2f} uJ per batch of {out['batch']}, "
                 f"DRAM {out['dram_bytes'] / 1e6:.3f} MB")
    return "\n".join(lines)


def run(args) -> int:
    design = load_npu(args.npu)
    if args.gemm and not args.topology:
        raise InputError("--gemm applies to --topology only", field="--gemm")
    exit_layers = None
    if args.topology:
        layers = load_topology(args.topology, gemm=args.gemm)
        title = f"{args.topology} on {args.npu}, batch {args.batch}"
    else:
        from workloads import get_model

        model = get_model(args.model, field="--model")
        layers = list(model.layers)
        exit_layers = list(model.exit_layers)
        title = f"{model.name} on {args.npu}, batch {args.batch}"
    out = report(design, layers, args.batch, exit_layers)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(_table(out, title))
    return 0
