"""The exit head used by the CNNs of the zoo (BranchyNet / B-ResNet style).

Head = [2x2 average pool while the map is larger than 14x14] -> 1x1 conv to 128
channels -> 3x3 conv, 128 channels, stride 2 (stride 1 below 8x8) -> global average
pool -> fully connected classifier.  Two conv layers plus a classifier as in the
BranchyNet branches, kept narrow so a head costs a few percent of the backbone.
"""

from __future__ import annotations

from workloads._build import NetBuilder

HEAD_WIDTH = 128


def exit_head(b: NetBuilder, name: str, classes: int) -> None:
    """Append an exit head (as a branch) at the current point of ``b``."""
    with b.head_branch():
        while b.h > 14:
            b.pool(2, 2)
        b.conv(f"{name}/conv1x1", HEAD_WIDTH, 1, pad=0)
        b.conv(f"{name}/conv3x3", HEAD_WIDTH, 3, stride=2 if b.h >= 8 else 1)
        b.global_pool()
        b.fc(f"{name}/fc", classes)
