"""BERT-base encoder (Devlin et al., NAACL 2019: 12 layers, hidden 768, 12 heads, FFN
3072) over a sequence of 128 tokens, with a DeeBERT off-ramp (Xin et al., ACL 2020:
pooler 768x768 on the [CLS] token + classifier) after every layer.

Linear layers are GEMMs with R = tokens; the attention products Q K^T and A V are
activation x activation matmuls (``weights_shared=False``), one group per head.
Embedding lookups, softmax, layer norms and residual additions carry no MACs.
"""

from __future__ import annotations

from workloads._build import NetBuilder

SEQ, HIDDEN, HEADS, FFN, LAYERS = 128, 768, 12, 3072, 12


def bert_base(seq: int = SEQ, classes: int = 2) -> NetBuilder:
    b = NetBuilder(1, seq, HIDDEN)
    dh = HIDDEN // HEADS
    for i in range(LAYERS):
        n = f"encoder.{i}"
        b.gemm(f"{n}.qkv", seq, HIDDEN, 3 * HIDDEN)
        b.gemm(f"{n}.scores", seq, dh, seq, shared=False, kind="matmul", groups=HEADS)
        b.gemm(f"{n}.context", seq, seq, dh, shared=False, kind="matmul", groups=HEADS)
        b.gemm(f"{n}.attn_out", seq, HIDDEN, HIDDEN)
        b.gemm(f"{n}.ffn1", seq, HIDDEN, FFN)
        b.gemm(f"{n}.ffn2", seq, FFN, HIDDEN)
        if i < LAYERS - 1:
            with b.head_branch():
                b.gemm(f"exit{i + 1}/pooler", 1, HIDDEN, HIDDEN)
                b.gemm(f"exit{i + 1}/classifier", 1, HIDDEN, classes)
    b.gemm("pooler", 1, HIDDEN, HIDDEN)
    b.gemm("classifier", 1, HIDDEN, classes)
    b.final_exit()
    return b


BUILDERS = {"bert_base": bert_base}
