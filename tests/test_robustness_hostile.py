"""Hostile input and resource limits: every reproducer of the hostile-input issue.

Each case runs a command in-process through ``dse.cli.main`` and checks a one-line error
naming the file, the field and the allowed range (exit 2), or a correct result.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cost_models import NpuDesign, fc, latency_table
from dse.cli import main
from dse.common import InputError

ROOT = Path(__file__).resolve().parents[1]
NPU = ROOT / "cost_models" / "designs" / "edge_small.toml"


def one_line_error(capsys, rc, *fragments):
    out, err = capsys.readouterr()
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("dse: error: "), err
    assert "Traceback" not in err + out
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def gemm_csv(tmp_path, m, n, k, name="g.csv"):
    p = tmp_path / name
    p.write_text(f"Layer name, M, N, K,\ng, {m}, {n}, {k},\n")
    return str(p)


def npu_with(tmp_path, **fields):
    text = NPU.read_text()
    for key, val in fields.items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} ")]
        text = "\n".join(lines) + f"\n{key} = {val}\n"
    p = tmp_path / "npu.toml"
    p.write_text(text)
    return str(p)


# ----------------------------------------------------------------- integer overflow
def test_huge_gemm_is_refused_not_negative(tmp_path, capsys):
    """10^8 x 10^8 x 10^8 reported negative cycles, bytes and energy with exit 0."""
    csv = gemm_csv(tmp_path, 10**8, 10**8, 10**8)
    rc = main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm"])
    one_line_error(capsys, rc, "g.csv", "line 2", "allowed")


def test_gemm_beyond_int64_budget_names_layer(tmp_path, capsys):
    csv = gemm_csv(tmp_path, 10**6, 10**6, 10**6)
    rc = main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm"])
    one_line_error(capsys, rc, "g.csv", "layer 'g'", "int64", "allowed")


def test_largest_accepted_gemm_is_positive(tmp_path, capsys):
    """Just inside the bounds the table is exact: positive cycles that grow with size."""
    csv = gemm_csv(tmp_path, 10**5, 10**5, 10**4)
    assert main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["total_cycles"] > 10**14 / 1024  # at least MACs / (MACs per cycle)


@pytest.mark.parametrize("value", [2**63 - 1, 2**64, 2**32 + 1])
def test_topology_dimension_out_of_range(tmp_path, capsys, value):
    csv = gemm_csv(tmp_path, value, 4, 4)
    rc = main(["cost", "--npu", str(NPU), "--topology", csv, "--gemm"])
    one_line_error(capsys, rc, "g.csv", "line 2: M", "allowed: 1..4294967296")


def test_onnx_dimension_out_of_range(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    big = 2**63 - 1
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "h",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, big]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, big, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              tmp_path / "huge.onnx")
    (tmp_path / "m.toml").write_text('[model]\nname = "h"\nonnx = "huge.onnx"\n'
                                     'exits = ["y"]\nexit_profile = [1.0]\n'
                                     'exit_accuracy = [0.9]\n')
    rc = main(["workloads", "show", str(tmp_path / "m.toml")])
    one_line_error(capsys, rc, "m.toml", "model.onnx", "mm.reduction", "1..4294967296")


def test_tiny_dram_bandwidth_is_refused(tmp_path, capsys):
    """dram_gbps = 1e-300 overflowed the cycle counter (a layer faster than at 0.001)."""
    rc = main(["cost", "--npu", npu_with(tmp_path, dram_gbps="1e-300"), "--model", "alexnet"])
    one_line_error(capsys, rc, "npu.toml", "npu.dram_gbps", "0.001")


def test_slowest_dram_is_slowest():
    """At the lower bound, less bandwidth never makes a layer faster (no wrap-around)."""
    layers = [fc("f", 4096, 4096)]
    slow = latency_table(replace(NpuDesign(), dram_gbps=1e-3), layers).cycles[0, 1]
    slower = latency_table(replace(NpuDesign(), dram_gbps=1e-3, clock_mhz=1e5),
                           layers).cycles[0, 1]
    fast = latency_table(NpuDesign(), layers).cycles[0, 1]
    assert 0 < fast < slow < slower


def test_tiny_tech_node_is_refused(tmp_path, capsys):
    """tech_nm = 1e-3 gave 0 mm2."""
    rc = main(["cost", "--npu", npu_with(tmp_path, tech_nm="1e-3"), "--model", "alexnet"])
    one_line_error(capsys, rc, "npu.toml", "npu.tech_nm", "2.0..1000.0")


def test_latency_table_refuses_arrays_beyond_budget():
    arr = np.array([[10**6, 10**6, 10**6, 1, 10**12, 10**12, 1, 10**12]], dtype=np.int64)
    with pytest.raises(InputError, match="layers\\[0\\]"):
        latency_table(NpuDesign(), arr)
