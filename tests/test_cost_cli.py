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
    (["--npu", EDGE, "--model", "resnet18", "--batch", "x"], "invalid int value"),
    (["--npu", EDGE, "--model", "resnet18", "--gemm"], "--gemm applies to --topology only"),
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
