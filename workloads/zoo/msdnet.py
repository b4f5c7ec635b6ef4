"""MSDNet-style multi-scale dense network for 32x32 inputs (CIFAR-100), after Huang et
al., ICLR 2018.  Our reduced reconstruction:

* three scales (32x32, 16x16, 8x8) with 16/32/64 channels after the first layer;
* 7 blocks of 4, 2, 2, 2, 2, 2, 2 dense layers (the official CIFAR anytime setting
  ``--nBlocks 7 --stepmode even --base 4 --step 2``); at scale s a layer adds ``6 * (1, 2, 4)[s]`` channels,
  half from a same-scale path (1x1 bottleneck -> 3x3 conv) and half from a strided path
  from the finer scale (1x1 -> 3x3 stride 2); scale 0 has only the same-scale path;
  bottleneck width ``min(c_in, (1, 2, 4)[s] * new channels)``;
* a classifier after each block on the coarsest scale: two 3x3 convs with 128
  channels and stride 2, global pool, linear (the paper's CIFAR classifier).

Scale dropping and transition layers of the paper are left out (noted in
docs/workloads.md); all seven classifiers are exits.
"""

from __future__ import annotations

from workloads._build import NetBuilder

SIZES, FIRST, MULT, GROWTH = (32, 16, 8), (16, 32, 64), (1, 2, 4), 6
STEPS = (4, 2, 2, 2, 2, 2, 2)    # dense layers per block; a classifier ends each block


def _classifier(b: NetBuilder, name: str, classes: int) -> None:
    b.conv(f"{name}/conv1", 128, 3, stride=2)
    b.conv(f"{name}/conv2", 128, 3, stride=2)
    b.global_pool()
    b.fc(f"{name}/fc", classes)


def msdnet(classes: int = 100) -> NetBuilder:
    b = NetBuilder(32, 32, 3)
    chans = list(FIRST)
    b.conv("first.s0", FIRST[0], 3)
    b.set_shape(SIZES[0], SIZES[0], FIRST[0])
    b.conv("first.s1", FIRST[1], 3, stride=2)
    b.conv("first.s2", FIRST[2], 3, stride=2)
    layer = 0
    for blk, steps in enumerate(STEPS):
        for _ in range(steps):
            new = list(chans)
            for s in range(3):
                g = GROWTH * MULT[s]
                paths = [(s, g)] if s == 0 else [(s, g // 2), (s - 1, g // 2)]
                for src, n_out in paths:
                    tag = "same" if src == s else "down"
                    inner = min(chans[src], MULT[s] * n_out)
                    b.set_shape(SIZES[src], SIZES[src], chans[src])
                    b.conv(f"layer{layer}.s{s}.{tag}.bottleneck", inner, 1, pad=0)
                    b.conv(f"layer{layer}.s{s}.{tag}.conv", n_out, 3, stride=1 if src == s else 2)
                new[s] += g
            chans = new
            layer += 1
        b.set_shape(SIZES[2], SIZES[2], chans[2])
        if blk < len(STEPS) - 1:
            with b.head_branch():
                _classifier(b, f"exit{blk + 1}", classes)
        else:
            _classifier(b, "classifier", classes)
            b.final_exit()
    return b


BUILDERS = {"msdnet": msdnet}
