"""AlexNet with BranchyNet exits (Teerapittayanon et al., ICPR 2016).

* ``alexnet``: 224x224, single-tower layout of torchvision (Krizhevsky 2014 "one weird
  trick"), a branch after conv1 and one after conv2 as the paper's text places them,
  each our small conv head plus classifier.
* ``b_alexnet``: B-AlexNet for 32x32 CIFAR-10 exactly as the official code builds it
  (kunglab/branchynet, ``networks/alex_cifar10.py``): branches after the 2nd and the 3rd
  convolution.  Chainer's pooling rounds up (``cover_all``), which ``pool(3, 2, 1)``
  reproduces at these sizes (32 -> 16 -> 8 -> 4 -> 2).
"""

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


def b_alexnet(classes: int = 10) -> NetBuilder:
    b = NetBuilder(32, 32, 3)
    b.conv("conv1", 32, 5)
    b.pool(3, 2, 1)                                      # 16x16
    b.conv("conv2", 64, 5)
    with b.head_branch():                                # branch 1: 2 convs + linear
        b.pool(3, 2, 1)                                  # 8x8
        b.conv("exit1/conv1", 32, 3)
        b.conv("exit1/conv2", 32, 3)
        b.pool(3, 2, 1)                                  # 4x4x32 = 512
        b.fc("exit1/fc", classes)
    b.pool(3, 2, 1)                                      # 8x8
    b.conv("conv3", 96, 3)
    with b.head_branch():                                # branch 2: 1 conv + linear
        b.pool(3, 2, 1)                                  # 4x4
        b.conv("exit2/conv", 32, 3)
        b.pool(3, 2, 1)                                  # 2x2x32 = 128
        b.fc("exit2/fc", classes)
    b.conv("conv4", 96, 3)
    b.conv("conv5", 64, 3)
    b.pool(3, 2, 1)                                      # 4x4x64 = 1024
    b.fc("fc1", 256)
    b.fc("fc2", 128)
    b.fc("fc3", classes)
    b.final_exit()
    return b


BUILDERS = {"alexnet": alexnet, "b_alexnet": b_alexnet}
