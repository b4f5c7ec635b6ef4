"""MobileNetV2 1.0 at 224x224 (Sandler et al., CVPR 2018, Table 2) with depthwise
convolutions as grouped GEMMs, and exit heads after the 32-channel (28x28) and the
96-channel (14x14) stages."""

from __future__ import annotations

from workloads._build import NetBuilder
from workloads.zoo._heads import exit_head

# (expansion t, output channels c, repeats n, first stride s): Table 2 of the paper.
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
_EXIT_AFTER = (2, 4)  # indices into _SETTINGS


def mobilenetv2(classes: int = 1000) -> NetBuilder:
    b = NetBuilder(224, 224, 3)
    b.conv("features.0", 32, 3, stride=2)
    block = 1
    for si, (t, c, n, s) in enumerate(_SETTINGS):
        for i in range(n):
            name = f"features.{block}"
            hidden = b.c * t
            if t != 1:
                b.conv(f"{name}.expand", hidden, 1, pad=0)
            b.conv(f"{name}.dw", hidden, 3, stride=s if i == 0 else 1, groups=hidden)
            b.conv(f"{name}.project", c, 1, pad=0)
            block += 1
        if si in _EXIT_AFTER:
            exit_head(b, f"exit{_EXIT_AFTER.index(si) + 1}", classes)
    b.conv(f"features.{block}", 1280, 1, pad=0)
    b.global_pool()
    b.fc("classifier", classes)
    b.final_exit()
    return b


BUILDERS = {"mobilenetv2": mobilenetv2}
