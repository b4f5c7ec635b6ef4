"""Model zoo: MAC counts against published figures, layer tables, exit structure."""

import math

import pytest

from cost_models import conv, fc, matmul
from workloads import get_model, list_models
from workloads.zoo import zoo_data

ZOO = ["resnet18", "resnet50", "mobilenetv2", "alexnet", "b_alexnet", "msdnet", "bert_base"]


def test_zoo_names():
    assert list_models() == ZOO


@pytest.mark.parametrize("name", [n for n in ZOO if "published_gmacs" in zoo_data()[n]])
def test_backbone_macs_match_published(name):
    # Published figures and their sources live next to the exit data (data/zoo.toml):
    # torchvision model docs (resnet18 1.81, resnet50 4.09, alexnet 0.71 GMACs),
    # Sandler et al. 2018 Table 4 (MobileNetV2 300M), TinyBERT Table 1 (BERT-base 22.5 GFLOPs).
    data = zoo_data()[name]
    assert get_model(name).provenance["published_gmacs"][0]["kind"] == "published"
    got = get_model(name).backbone_gmacs
    assert got == pytest.approx(data["published_gmacs"], rel=0.05), (name, got)


def test_issue_reference_figures():
    # The issue's own reference figures (ResNet-50 ~4.1, ResNet-18 ~1.8, MobileNetV2 ~0.3,
    # AlexNet ~0.72, BERT-base seq 128 ~11 GMACs).
    for name, ref in (("resnet50", 4.1), ("resnet18", 1.8), ("mobilenetv2", 0.3),
                      ("alexnet", 0.72), ("bert_base", 11.0)):
        assert get_model(name).backbone_gmacs == pytest.approx(ref, rel=0.05), name


def test_bert_base_hand_count():
    # 12 x (QKV 3*S*H*H + scores S*S*H + context S*S*H + out S*H*H + FFN 2*S*H*4H), S=128,
    # H=768, plus pooler H*H and classifier 2H.
    s, h = 128, 768
    per_layer = 3 * s * h * h + 2 * s * s * h + s * h * h + 2 * s * h * 4 * h
    assert get_model("bert_base").backbone_gmacs * 1e9 == 12 * per_layer + h * h + 2 * h


@pytest.mark.parametrize("name", ZOO)
def test_exit_structure(name):
    m = get_model(name)
    assert m.exit_layers[-1] == len(m.layers) - 1
    assert list(m.exit_layers) == sorted(set(m.exit_layers))
    assert math.isclose(sum(m.exit_profile), 1.0, abs_tol=1e-9)
    assert len(m.exit_accuracy) == m.n_exits == len(m.exit_profile)
    assert all(0 < a <= 1 for a in m.exit_accuracy)
    assert list(m.exit_accuracy) == sorted(m.exit_accuracy)   # deeper exits are better
    gm = m.exit_gmacs
    assert all(a < b for a, b in zip(gm, gm[1:], strict=False))
    # every early exit ends in a head layer; the last layer is backbone
    for e in m.exit_layers[:-1]:
        assert m.head[e]
    assert not m.head[-1]
    assert m.source and m.params_m > 0


def test_resnet50_layers_against_constructors():
    # Independent reference: cost_models' conv/fc constructors from the torchvision shapes.
    m = get_model("resnet50")
    by_name = {ly.name: ly for ly in m.layers}
    assert by_name["conv1"] == conv("conv1", 224, 224, 3, 64, 7, stride=2, padding=3)
    assert by_name["layer2.0.conv2"] == conv("layer2.0.conv2", 56, 56, 128, 128, 3, stride=2,
                                             padding=1)
    assert by_name["layer4.2.conv3"] == conv("layer4.2.conv3", 7, 7, 512, 2048, 1)
    assert by_name["fc"] == fc("fc", 2048, 1000)
    assert len([ly for ly in m.layers if not m.head[m.layers.index(ly)]]) == 54  # 53 conv + fc


def test_mobilenetv2_depthwise_layers_are_grouped():
    m = get_model("mobilenetv2")
    dw = [ly for ly in m.layers if ly.name.endswith(".dw")]
    assert len(dw) == 17
    first = dw[0]
    assert first == conv(first.name, 112, 112, 32, 32, 3, padding=1, groups=32)
    assert all(ly.reduction == 9 and ly.cols == 1 and ly.groups > 1 for ly in dw)


def test_bert_attention_is_activation_matmul():
    m = get_model("bert_base")
    by_name = {ly.name: ly for ly in m.layers}
    assert by_name["encoder.0.scores"] == matmul("encoder.0.scores", 128, 64, 128, heads=12)
    assert by_name["encoder.0.context"] == matmul("encoder.0.context", 128, 128, 64, heads=12)
    assert by_name["encoder.3.ffn1"] == fc("encoder.3.ffn1", 768, 3072, tokens=128)
    assert m.n_exits == 12
    assert sum(not ly.weights_shared for ly in m.layers) == 24


def test_alexnet_branches_after_conv1_and_conv2():
    m = get_model("alexnet")
    names = [ly.name for ly in m.layers]
    assert names.index("features.0") < m.exit_layers[0] < names.index("features.3")
    assert names.index("features.3") < m.exit_layers[1] < names.index("features.6")


def test_b_alexnet_matches_the_official_code():
    # kunglab/branchynet networks/alex_cifar10.py: the linear layers' input sizes (512 and
    # 128 in the branches, 1024 in the trunk) pin the pooled shapes, branch 1 follows the
    # 2nd convolution and branch 2 the 3rd.
    m = get_model("b_alexnet")
    by_name = {ly.name: ly for ly in m.layers}
    assert (by_name["exit1/fc"].reduction, by_name["exit2/fc"].reduction,
            by_name["fc1"].reduction) == (512, 128, 1024)
    assert by_name["conv2"] == conv("conv2", 16, 16, 32, 64, 5, padding=2)
    names = [ly.name for ly in m.layers]
    assert names.index("conv2") < m.exit_layers[0] < names.index("conv3") < m.exit_layers[1]
    assert all(m.layers[e].cols == 10 for e in m.exit_layers)


def test_msdnet_classifiers_follow_the_official_cifar_anytime_steps():
    # --nBlocks 7 --stepmode even --base 4 --step 2: classifiers after layers 4, 6, ..., 16
    m = get_model("msdnet")
    assert m.n_exits == 7
    assert all(m.layers[e].kind == "fc" and m.layers[e].cols == 100 for e in m.exit_layers)
    names = [ly.name for ly in m.layers]
    dense_before = [1 + max(int(n.split(".")[0][len("layer"):]) for n in names[:e]
                            if n.startswith("layer")) for e in m.exit_layers]
    assert dense_before == [4, 6, 8, 10, 12, 14, 16]


def test_unknown_model_lists_known_ones():
    from dse.common import InputError

    with pytest.raises(InputError) as err:
        get_model("resnet05")
    msg = str(err.value)
    assert "did you mean 'resnet50'" in msg and "bert_base" in msg and "\n" not in msg
