"""``dse cost``: per-layer latency, FBE mode, area and energy of one design."""

from __future__ import annotations

from dse.cli._common import print_json
from dse.common import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cost", help="latency, FBE modes, area and energy of a design on a layer list",
        description="Per-layer latency table of NPU.toml on a SCALE-Sim topology CSV or a "
                    "zoo model, for one batch size.")
    p.add_argument("--npu", required=True, metavar="DESIGN.toml|.json",
                   help="design file ([npu] table; an exported design works too)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--topology", metavar="FILE.csv", help="SCALE-Sim topology CSV")
    src.add_argument("--model", metavar="NAME", help="zoo model name (see `dse workloads`)")
    p.add_argument("--gemm", action="store_true",
                   help="the topology CSV is in GEMM format (Layer name, M, N, K)")
    p.add_argument("--batch", type=int, default=None, metavar="B",
                   help="batch size, 1..max_batch (default 1; with --sweep-batch, the batch "
                        "of the per-layer-class table, default max_batch)")
    p.add_argument("--sweep-batch", action="store_true",
                   help="MAC utilisation by batch size for r / p / fluid batching, with and "
                        "without PE stacking, overall and per layer class")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def report(design, layers, batch: int, exit_layers=None) -> dict:
    """The ``dse cost --json`` object for ``layers`` at batch ``batch``."""
    from cost_models import area_breakdown, latency_table

    _check_batch(design, batch)
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


def _check_batch(design, batch: int) -> None:
    if not 1 <= batch <= design.max_batch:
        raise InputError(f"must be in 1..{design.max_batch} (the design's max_batch), "
                         f"got {batch}", field="--batch")


def _sweep_table(sw: dict, title: str, batch: int) -> str:
    """Text form of ``utilisation_sweep``: powers-of-two batches, then classes at ``batch``."""
    from cost_models import SWEEP_BATCHING

    cols = [(v, m) for v in ("no_stacking", "stacking") for m in SWEEP_BATCHING]
    names = [m if v == "no_stacking" else f"{m}+stack" for v, m in cols]
    head = " ".join(f"{n:>11}" for n in names)
    last = sw["batches"][-1]
    shown = sorted({b for b in sw["batches"] if b & (b - 1) == 0} | {last})
    lines = [title, f"MAC utilisation = useful MACs / (pe_count x pe_width x cycles); "
                    f"+stack: k in {sw['stack_factors']}, otherwise k = 1"]
    for key, what in (("utilisation", "total cycles (DRAM stalls and per-layer overhead)"),
                      ("compute_utilisation", "compute cycles (array busy)")):
        lines += ["", f"{what}:", f"{'batch':<8}{head}"]
        for b in shown:
            lines.append(f"{b:<8}" + " ".join(f"{sw[key][v][m][b - 1]:>11.1%}"
                                                for v, m in cols))
    lines += ["", f"by layer class at batch {batch}, compute cycles "
                  f"(b=1: without / with stacking):",
              f"{'class':<16}{'layers':>6}{'MACs':>7} {'b=1':>15} {head}"]
    for c, e in sw["classes"].items():
        cu = e["compute_utilisation"]
        one = f"{cu['no_stacking']['fluid'][0]:.1%} / {cu['stacking']['fluid'][0]:.1%}"
        lines.append(f"{c:<16}{e['layers']:>6}{e['mac_share']:>7.1%} {one:>15} " + " ".join(
            f"{cu[v][m][batch - 1]:>11.1%}" for v, m in cols))
    return "\n".join(lines)


def run(args) -> int:
    from dse.cli._common import prepare_kernels
    from dse.report import read_npu

    design = read_npu(args.npu)[0]
    if args.gemm and not args.topology:
        raise InputError("--gemm applies to --topology only", field="--gemm")
    exit_layers = None
    if args.topology:
        from cost_models import load_topology

        layers = load_topology(args.topology, gemm=args.gemm)
        name = args.topology
    else:
        from workloads import get_model

        model = get_model(args.model, field="--model")
        layers = list(model.layers)
        exit_layers = list(model.exit_layers)
        name = model.name
    prepare_kernels()
    try:
        return _print(args, design, layers, name, exit_layers)
    except InputError as exc:  # a layer too large for this design: name its file
        if exc.source is None and args.topology:
            raise InputError(exc.message, source=args.topology, field=exc.field,
                             allowed=exc.allowed) from None
        raise


def _print(args, design, layers, name, exit_layers) -> int:
    if args.sweep_batch:
        from cost_models import utilisation_sweep


        batch = design.max_batch if args.batch is None else args.batch
        _check_batch(design, batch)
        sw = utilisation_sweep(design, layers)
        if args.json:
            print_json({"model": name, "npu": args.npu, **sw}, indent=1)
        else:
            print(_sweep_table(sw, f"{name} on {args.npu}", batch))
        return 0
    batch = 1 if args.batch is None else args.batch
    out = report(design, layers, batch, exit_layers)
    if args.json:
        print_json(out, indent=1)
    else:
        print(_table(out, f"{name} on {args.npu}, batch {batch}"))
    return 0
