"""ResNet-18 and ResNet-50 (He et al., CVPR 2016; torchvision v1.5 layout: stride on the
3x3 conv of a bottleneck) at 224x224, with an exit head after stages 1, 2 and 3."""

from __future__ import annotations

from workloads._build import NetBuilder
from workloads.zoo._heads import exit_head


def _stem(b: NetBuilder) -> None:
    b.conv("conv1", 64, 7, stride=2, pad=3)
    b.pool(3, 2, 1)


def _basic(b: NetBuilder, name: str, width: int, stride: int) -> None:
    cin, h, w = b.c, b.h, b.w
    b.conv(f"{name}.conv1", width, 3, stride=stride)
    b.conv(f"{name}.conv2", width, 3)
    if stride != 1 or cin != width:
        out = b.shape
        b.set_shape(h, w, cin)
        b.conv(f"{name}.downsample", width, 1, stride=stride, pad=0)
        assert b.shape == out


def _bottleneck(b: NetBuilder, name: str, width: int, stride: int) -> None:
    cin, h, w = b.c, b.h, b.w
    b.conv(f"{name}.conv1", width, 1, pad=0)
    b.conv(f"{name}.conv2", width, 3, stride=stride)
    b.conv(f"{name}.conv3", 4 * width, 1, pad=0)
    if stride != 1 or cin != 4 * width:
        out = b.shape
        b.set_shape(h, w, cin)
        b.conv(f"{name}.downsample", 4 * width, 1, stride=stride, pad=0)
        assert b.shape == out


def _resnet(block, depths, classes: int = 1000) -> NetBuilder:
    b = NetBuilder(224, 224, 3)
    _stem(b)
    for stage, (n, width) in enumerate(zip(depths, (64, 128, 256, 512), strict=True)):
        for i in range(n):
            block(b, f"layer{stage + 1}.{i}", width, 2 if (i == 0 and stage > 0) else 1)
        if stage < 3:
            exit_head(b, f"exit{stage + 1}", classes)
    b.global_pool()
    b.fc("fc", classes)
    b.final_exit()
    return b


def resnet18() -> NetBuilder:
    return _resnet(_basic, (2, 2, 2, 2))


def resnet50() -> NetBuilder:
    return _resnet(_bottleneck, (3, 4, 6, 3))


BUILDERS = {"resnet18": resnet18, "resnet50": resnet50}
