"""AlexNet at 224x224 (single-tower layout of torchvision, Krizhevsky 2014 "one weird
trick") with B-AlexNet exits (Teerapittayanon et al., ICPR 2016): a branch after conv1
and one after conv2, each a small conv head plus classifier."""

from __future__ import annotations

from workloads._build import NetBuilder
from workloads.zoo._heads import exit_head


def alexnet(classes: int = 1000) -> NetBuilder:
    b = NetBuilder(224, 224, 3)
    b.conv("features.0", 64, 11, stride=4, pad=2)      # 55x55
    b.pool(3, 2)                                         # 27x27
    exit_head(b, "exit1", classes)
    b.conv("features.3", 192, 5, pad=2)
    b.pool(3, 2)                                         # 13x13
    exit_head(b, "exit2", classes)
    b.conv("features.6", 384, 3)
    b.conv("features.8", 256, 3)
    b.conv("features.10", 256, 3)
    b.pool(3, 2)                                         # 6x6
    b.fc("classifier.1", 4096)
    b.fc("classifier.4", 4096)
    b.fc("classifier.6", classes)
    b.final_exit()
    return b


BUILDERS = {"alexnet": alexnet}
