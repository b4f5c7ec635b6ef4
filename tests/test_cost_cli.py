"""``dse cost``: output contents and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cost_models import latency_table, load_npu, load_topology
from dse.cli import main

DESIGNS = Path(__file__).resolve().parents[1] / "cost_models" / "designs"
EDGE = str(DESIGNS / "edge_small.toml")
TOPO = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n" \
       "conv1, 34, 34, 3, 3, 3, 32, 2,\nconv2, 16, 16, 3, 3, 32, 64, 1,\nfc, 1, 1, 1, 1, 1024, 10, 1,\n"


@pytest.fixture
def topo(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(TOPO)
    return str(p)


def test_json_output_matches_latency_table(topo, capsys):
    assert main(["cost", "--npu", EDGE, "--topology", topo, "--batch", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = latency_table(load_npu(EDGE), load_topology(topo))
    assert [r["name"] for r in out["layers"]] == ["conv1", "conv2", "fc"]
    for i, r in enumerate(out["layers"]):
        assert r["total_cycles"] == t.cycles[i, 4]
        assert r["compute_cycles"] == t.compute_cycles[i, 4]
        assert r["latency_ms"] == pytest.approx(t.ms[i, 4])
        assert [r["mode"][k] for k in ("b_r", "b_p", "k")] == list(t.modes[i, 4])
        assert 0 < r["utilisation"] <= 1
    assert out["total_cycles"] == t.cycles[:, 4].sum()
    assert out["latency_ms"] == pytest.approx(t.ms[:, 4].sum())
    assert out["energy_uj"] == pytest.approx(t.energy_uj[:, 4].sum())
    assert out["area_mm2"]["total"] > 0 and "weight_sram" in out["area_mm2"]
    assert "exits" not in out


def test_model_exits(capsys):
    from workloads import get_model

    assert main(["cost", "--npu", EDGE, "--model", "resnet18", "--batch", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = get_model("resnet18")
    assert len(out["layers"]) == len(m.layers)
    cum = [e["cumulative_latency_ms"] for e in out["exits"]]
    assert len(cum) == len(m.exit_layers) and cum == sorted(cum)
    assert cum[-1] == pytest.approx(out["latency_ms"])
    first = m.exit_layers[0]
    assert cum[0] == pytest.approx(sum(r["latency_ms"] for r in out["layers"][:first + 1]))


def test_table_output(topo, capsys):
    assert main(["cost", "--npu", EDGE, "--topology", topo]) == 0
    text = capsys.readouterr().out
    assert "conv2" in text and "area" in text and "mm2" in text and "b_r" in text


@pytest.mark.parametrize("args, match", [
    (["--npu", "missing.toml", "--model", "resnet18"], "missing.toml: file not found"),
    (["--npu", EDGE, "--model", "resnt18"], "did you mean 'resnet18'"),
    (["--npu", EDGE, "--model", "resnet18", "--batch", "0"], "--batch: must be in 1..32"),
    (["--npu", EDGE, "--model", "resnet18", "--batch", "x"], "--batch must be an integer, got 'x'"),
    (["--npu", EDGE, "--model", "resnet18", "--gemm"], "--gemm applies to --topology only"),
    (["--npu", EDGE, "--model", "resnet18", "--sweep-batch", "--batch", "33"],
     "--batch: must be in 1..32"),
    (["--npu", EDGE], "one of the arguments --topology --model is required"),
])
def test_cli_errors_one_line_exit_2(args, match, capsys):
    assert main(["cost", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert match in err


@pytest.mark.parametrize("toml, match", [
    ("[npu]\npe_cont = 8\n", "did you mean 'pe_count'"),
    ("[npu]\npe_count = 'many'\n", "npu.pe_count: expected an integer"),
    ("[npu]\npe_count = 0\n", "npu.pe_count: must be > 0"),
    ("[npu]\npe_count = 12\nstack_factors = [1, 8]\n", "does not divide pe_count"),
    ("[npu]\nbatching = 'dynamic'\n", "allowed: none, r, p, fluid"),
])
def test_bad_design_file_exit_2(tmp_path, toml, match, capsys):
    p = tmp_path / "d.toml"
    p.write_text(toml)
    assert main(["cost", "--npu", str(p), "--model", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(p) in err and match in err


@pytest.mark.parametrize("csv, match", [
    ("h,\nc1, 8, 8, 3, 3, three, 4, 1,\n", "line 2: Channels"),
    ("h,\nc1, 4, 4, 5, 5, 3, 4, 1,\n", "filter larger than input"),
])
def test_bad_topology_exit_2(tmp_path, csv, match, capsys):
    p = tmp_path / "t.csv"
    p.write_text(csv)
    assert main(["cost", "--npu", EDGE, "--topology", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(p) in err and match in err


def test_sweep_batch_json_matches_latency_tables(capsys):
    """--sweep-batch: utilisation = b * MACs / (peak * total cycles) of each mode's table;
    fluid is never below r or p; the class MAC shares add up to one."""
    from dataclasses import replace

    from workloads import get_model

    assert main(["cost", "--npu", EDGE, "--model", "mobilenetv2", "--sweep-batch",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    d = load_npu(EDGE)
    layers = get_model("mobilenetv2").layers
    assert out["model"] == "mobilenetv2" and out["batches"] == list(range(1, 33))
    assert out["stack_factors"] == [1, 2, 4]
    macs = sum(ly.macs for ly in layers)
    peak = d.pe_count * d.pe_width
    for variant, ks in (("no_stacking", (1,)), ("stacking", (1, 2, 4))):
        for mode in ("r", "p", "fluid"):
            t = latency_table(replace(d, batching=mode, stack_factors=ks), layers)
            for b in (1, 4, 32):
                assert out["utilisation"][variant][mode][b - 1] == pytest.approx(
                    b * macs / (peak * t.cycles[:, b].sum()))
                assert out["compute_utilisation"][variant][mode][b - 1] == pytest.approx(
                    b * macs / (peak * t.compute_cycles[:, b].sum()))
        u = out["utilisation"][variant]
        assert all(f >= max(r, p) - 1e-12 for f, r, p in zip(u["fluid"], u["r"], u["p"], strict=True))
    assert set(out["classes"]) == {"grouped", "fc", "dense"}
    assert out["classes"]["grouped"]["layers"] == 17
    assert sum(c["mac_share"] for c in out["classes"].values()) == pytest.approx(1.0)


def test_sweep_batch_table(capsys):
    assert main(["cost", "--npu", str(DESIGNS / "npu_wide.toml"), "--model", "mobilenetv2",
                 "--sweep-batch", "--batch", "8"]) == 0
    text = capsys.readouterr().out
    assert "fluid+stack" in text and "compute cycles (array busy)" in text
    assert "by layer class at batch 8" in text and "small_reduction" in text
    rows = [ln.split()[0] for ln in text.splitlines() if ln[:1].isdigit()]
    assert rows == ["1", "2", "4", "8", "16", "32"] * 2


def test_layer_classes():
    from cost_models import NpuDesign, conv, fc, layer_class

    d = NpuDesign(pe_count=32, pe_width=128)
    assert layer_class(conv("dw", 14, 14, 8, 8, 3, padding=1, groups=8), d) == "grouped"
    assert layer_class(fc("fc", 1280, 1000), d) == "fc"
    assert layer_class(conv("late", 7, 7, 256, 256, 3, padding=1), d) == "small_spatial"
    assert layer_class(conv("first", 56, 56, 3, 32, 3, padding=1), d) == "small_reduction"
    assert layer_class(conv("dense", 28, 28, 128, 128, 3, padding=1), d) == "dense"
