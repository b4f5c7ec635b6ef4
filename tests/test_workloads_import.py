"""Users' own models: SCALE-Sim topology CSV and ONNX (built here with onnx.helper)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cost_models import conv, fc, matmul
from dse.cli import main
from dse.common import InputError
from workloads import Scenario, get_model


def _init(name, shape):
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def tiny_onnx(path, extra_nodes=()):
    """conv -> depthwise conv -> [exit head: GAP, Gemm] -> 1x1 conv -> tokens -> MatMul
    (weights) and attention-like MatMuls (activations) -> mean -> Gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "wdw"], ["c2"], name="dw", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], group=16),
        helper.make_node("GlobalAveragePool", ["c2"], ["g1"], name="gap1"),
        helper.make_node("Flatten", ["g1"], ["f1"], name="flat1"),
        helper.make_node("Gemm", ["f1", "we", "be"], ["exit1"], name="exit1_fc", transB=1),
        helper.make_node("Conv", ["c2", "w3", "b3"], ["c3"], name="pw", kernel_shape=[1, 1],
                         group=2),
        helper.make_node("Reshape", ["c3", "shp"], ["t"], name="to_tokens"),
        helper.make_node("MatMul", ["t", "wm"], ["m"], name="proj"),
        helper.make_node("Transpose", ["t"], ["tt"], name="tr", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["t", "tt"], ["att"], name="scores"),
        helper.make_node("MatMul", ["att", "m"], ["ctx"], name="context"),
        *extra_nodes,
        helper.make_node("ReduceMean", ["ctx"], ["mm"], name="pool", axes=[1], keepdims=0),
        helper.make_node("Gemm", ["mm", "wf"], ["logits"], name="fc"),
    ]
    inits = [_init("w1", [16, 3, 3, 3]), _init("wdw", [16, 1, 3, 3]), _init("we", [10, 16]),
             _init("be", [10]), _init("w3", [32, 8, 1, 1]), _init("b3", [32]),
             numpy_helper.from_array(np.array([0, 32, 256], np.int64), "shp"),
             _init("wm", [256, 64]), _init("wf", [64, 10])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("exit1", TensorProto.FLOAT, ["N", 10]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


MODEL_TOML = """[model]
onnx = "tiny.onnx"
exits = ["exit1", "logits"]
exit_profile = [0.25, 0.75]
exit_accuracy = [0.8, 0.9]
{extra}"""


def write_onnx_model(tmp_path, extra="", extra_nodes=()):
    tiny_onnx(str(tmp_path / "tiny.onnx"), extra_nodes)
    (tmp_path / "tiny.toml").write_text(MODEL_TOML.format(extra=extra))
    return str(tmp_path / "tiny.toml")


def test_onnx_import(tmp_path):
    m = get_model(write_onnx_model(tmp_path))
    # expected layers from the shapes used to build the graph (cost_models constructors)
    expected = [
        conv("conv1", 32, 32, 3, 16, 3, stride=2, padding=1),
        conv("dw", 16, 16, 16, 16, 3, padding=1, groups=16),
        fc("exit1_fc", 16, 10),
        conv("pw", 16, 16, 16, 32, 1, groups=2),
        fc("proj", 256, 64, tokens=32),
        matmul("scores", 32, 256, 32),
        matmul("context", 32, 32, 64),
        fc("fc", 64, 10),
    ]
    assert list(m.layers) == expected
    assert m.exit_layers == (2, 7)
    assert m.head == (False, False, True, False, False, False, False, False)
    assert m.name == "tiny" and m.exit_profile == (0.25, 0.75)
    assert m.macs.sum() == sum(ly.macs for ly in expected)


def test_onnx_unsupported_ops_named_and_skippable(tmp_path, capsys):
    extra = [helper.make_node("Einsum", ["ctx"], ["ctx2"], name="weird", equation="bij->bij"),
             helper.make_node("Hardmax", ["ctx2"], ["ctx3"], name="hm")]
    path = write_onnx_model(tmp_path, extra_nodes=extra)
    with pytest.raises(InputError) as err:
        get_model(path)
    msg = str(err.value)
    assert "Einsum (node 'weird')" in msg and "Hardmax (node 'hm')" in msg
    assert "skip_unsupported" in msg
    assert main(["workloads", "show", path]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    path = write_onnx_model(tmp_path, extra="skip_unsupported = true\n", extra_nodes=extra)
    assert len(get_model(path).layers) == 8


def test_onnx_bad_exits(tmp_path):
    tiny_onnx(str(tmp_path / "tiny.onnx"))
    for exits, msg in ((["exit1", "logitz"], "no node or tensor named 'logitz'"),
                       (["logits", "exit1"], "from the shallowest to the final one"),
                       (["dw", "c2", "logits"], "needs no more MACs than exit .dw."),
                       (["logits"], None)):
        (tmp_path / "m.toml").write_text(
            f'[model]\nonnx = "tiny.onnx"\nexits = {exits!r}\n'.replace("'", '"')
            + f"exit_profile = {[1.0 / len(exits)] * len(exits)}\n"
            + f"exit_accuracy = {[0.9] * len(exits)}\n")
        if msg is None:   # exit1 head then feeds no exit
            with pytest.raises(InputError, match="feed no exit: exit1_fc"):
                get_model(str(tmp_path / "m.toml"))
        else:
            with pytest.raises(InputError, match=msg):
                get_model(str(tmp_path / "m.toml"))


CSV = """Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
conv1, 34, 34, 3, 3, 3, 16, 1,
exit1_conv, 32, 32, 3, 3, 16, 8, 2,
exit1_fc, 1, 1, 1, 1, 8192, 10, 1,
conv2, 34, 34, 3, 3, 16, 32, 2,
fc, 1, 1, 1, 1, 8192, 10, 1,
"""


def write_csv_model(tmp_path, **over):
    fields = {"topology": '"net.csv"', "exits": '["exit1_fc", "fc"]',
              "heads": '["exit1_conv", "exit1_fc"]', "exit_profile": "[0.4, 0.6]",
              "exit_accuracy": "[0.7, 0.85]", "source": '"test"'}
    fields.update(over)
    (tmp_path / "net.csv").write_text(CSV)
    body = "[model]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)
    (tmp_path / "net.toml").write_text(body)
    return str(tmp_path / "net.toml")


def test_csv_import(tmp_path):
    m = get_model(write_csv_model(tmp_path))
    assert [ly.name for ly in m.layers] == ["conv1", "exit1_conv", "exit1_fc", "conv2", "fc"]
    assert m.exit_layers == (2, 4) and m.head == (False, True, True, False, False)
    assert m.layers[0] == conv("conv1", 34, 34, 3, 16, 3)     # SCALE-Sim: no padding
    assert m.layers[0].macs == 32 * 32 * 27 * 16
    # conv2: SCALE-Sim output ceil((34 - 3) / 2) + 1 = 17
    assert m.layers[3].rows == 17 * 17
    assert m.backbone_gmacs * 1e9 == pytest.approx(32 * 32 * 27 * 16 + 17 * 17 * 144 * 32
                                                   + 8192 * 10, abs=1e-3)
    # exits by index give the same model
    assert get_model(write_csv_model(tmp_path, exits="[2, 4]")).exit_layers == (2, 4)


def test_zoo_model_round_trips_through_csv(tmp_path):
    # Write a zoo model's layers as a SCALE-Sim GEMM topology (M, N, K), read it back with
    # its exits: same layer GEMMs, exits and MACs (ungrouped model: AlexNet).
    ref = get_model("alexnet")
    lines = ["Layer name, M, N, K,"]
    lines += [f"{ly.name}, {ly.rows}, {ly.cols}, {ly.reduction}," for ly in ref.layers]
    (tmp_path / "a.csv").write_text("\n".join(lines) + "\n")
    heads = [ly.name for ly, h in zip(ref.layers, ref.head, strict=True) if h]
    (tmp_path / "a.toml").write_text(
        f'[model]\nname = "alexnet_copy"\ntopology = "a.csv"\nformat = "gemm"\n'
        f"exits = {list(ref.exit_layers)}\nheads = {heads!r}\n".replace("'", '"')
        + f"exit_profile = {list(ref.exit_profile)}\nexit_accuracy = {list(ref.exit_accuracy)}\n")
    m = get_model(str(tmp_path / "a.toml"))
    assert [(ly.rows, ly.reduction, ly.cols) for ly in m.layers] == \
           [(ly.rows, ly.reduction, ly.cols) for ly in ref.layers]
    assert m.exit_layers == ref.exit_layers and m.head == ref.head
    assert m.gmacs == ref.gmacs and m.backbone_gmacs == ref.backbone_gmacs


@pytest.mark.parametrize("over,msg", [
    ({"exits": "[2, 9]"}, "exits[1]: layer index 9 is outside the network"),
    ({"exits": '["exit1_fc", "fcc"]'}, "no layer named 'fcc' (did you mean 'fc'?)"),
    ({"exits": "[2, 3]"}, "the last exit must be the last layer"),
    ({"exits": "[4, 2]"}, "strictly increasing"),
    ({"exit_profile": "[0.5, 0.6]"}, "exit profile sums to 1.1, not 1"),
    ({"exit_profile": None}, "model.exit_profile: missing"),
    ({"exit_accuracy": "[0.5, 1.5]"}, "not a fraction"),
    ({"topology": '"missing.csv"'}, "file not found"),
    ({"format": '"gemmm"'}, "unknown topology format"),
    ({"exitz": "1"}, "unknown key 'exitz' (did you mean 'exits'?)"),
])
def test_csv_bad_input(tmp_path, capsys, over, msg):
    path = write_csv_model(tmp_path, **over)
    with pytest.raises(InputError, match=None) as err:
        get_model(path)
    assert msg in str(err.value) and "\n" not in str(err.value)
    assert main(["workloads", "show", path]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_user_model_in_a_scenario(tmp_path):
    path = write_onnx_model(tmp_path)
    (tmp_path / "s.toml").write_text(
        '[scenario]\n[[scenario.streams]]\nname = "a"\nmodel = "tiny.toml"\nrate_rps = 50\n'
        "slo_ms = 10\n")
    from workloads import load_scenario

    sc = load_scenario(str(tmp_path / "s.toml"))
    assert sc.models == [path]
    assert Scenario.from_dict(sc.to_dict()) == sc
    tr = sc.trace(10_000, seed=0)
    assert np.mean(tr.exit == 0) == pytest.approx(0.25, abs=0.02)
