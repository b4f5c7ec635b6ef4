"""Import an ONNX graph as an early-exit layer table (``onnx`` + shape inference).

Supported layers: ``Conv`` (1-D/2-D/3-D, grouped and depthwise), ``Gemm`` and ``MatMul``.
Operators without MACs that the cost model ignores (activations, pooling, reshapes,
normalisation, element-wise arithmetic, ...) are passed through.  Any other operator
is *unsupported*: the import fails naming it, unless ``skip_unsupported`` is set, in
which case it is treated as MAC-free (and its MACs are missing from the table).

Per sample: the first dimension of the first graph input is the batch dimension (a
symbolic batch counts as 1).  A ``MatMul``/``Gemm`` whose second operand is an
initializer is a weight layer (leading dimensions fold into rows); otherwise it is an
activation x activation product (``weights_shared = False``) and the leading
non-batch dimensions are groups (attention heads).

Exits are named by node names or tensor names (for example the graph outputs); exit
``e`` needs every supported layer its tensor depends on.  Layers are laid out exit by
exit: first the ancestors of exit 0 (in graph order), then the ancestors of exit 1 not
yet placed, and so on, so a request leaving at exit ``e`` runs exactly layers
``0..exit_layers[e]``.  Layers needed by an earlier exit but not by the last one are
marked as head layers.
"""

from __future__ import annotations

import math

from cost_models import Layer
from dse.common import InputError, did_you_mean
from dse.common.files import check_input_file

GEMM_OPS = ("Conv", "Gemm", "MatMul")
PASS_THROUGH = frozenset("""
Abs Add AveragePool BatchNormalization Cast Ceil Clip Concat Constant ConstantOfShape Div
Dropout Elu Equal Erf Exp Expand Flatten Floor Gather Gelu GlobalAveragePool GlobalMaxPool
Greater HardSigmoid HardSwish Identity InstanceNormalization LayerNormalization LeakyRelu
Less Log LogSoftmax LpNormalization MaxPool Max Mean Min Mish Mul Neg Not Pad Pow PRelu
Range Reciprocal ReduceL2 ReduceMax ReduceMean ReduceMin ReduceSum Relu Reshape Resize
Round Selu Shape Sigmoid Sign Slice Softmax Softplus Softsign Split Sqrt Squeeze Sub Sum
Tanh Tile TopK Transpose Trilu Unsqueeze Upsample Where
""".split())


def _dims(vi) -> list:
    shape = vi.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in shape.dim]


def load_onnx_layers(path: str, exits: list, *, skip_unsupported: bool = False,
                     source: str | None = None, field: str = "onnx"):
    """(layers, exit_layers, head mask) of the ONNX file ``path`` with the named exits."""
    import onnx
    from onnx import shape_inference

    src = source or path
    check_input_file(path, source=src, field=field, what="ONNX file")
    try:
        model = onnx.load(path)
    except Exception as exc:  # noqa: BLE001 - onnx raises many types for corrupt files
        # the exception's type only: its text may quote the file, which may be anything
        raise InputError(f"cannot read ONNX file '{path}': not an ONNX model "
                         f"({type(exc).__name__})", source=src, field=field) from None
    try:
        model = shape_inference.infer_shapes(model)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"ONNX shape inference failed: {exc}", source=src,
                         field=field) from None
    g = model.graph
    inits = {t.name: list(t.dims) for t in g.initializer}
    shapes = {vi.name: _dims(vi) for vi in (*g.input, *g.value_info, *g.output)}
    shapes.update(inits)
    graph_inputs = [i for i in g.input if i.name not in inits]
    batch = 1
    if graph_inputs and _dims(graph_inputs[0]):
        b0 = _dims(graph_inputs[0])[0]
        batch = b0 if isinstance(b0, int) and b0 > 0 else 1

    unsupported = [(n.op_type, n.name or n.output[0]) for n in g.node
                   if n.op_type not in GEMM_OPS and n.op_type not in PASS_THROUGH]
    if unsupported and not skip_unsupported:
        ops = sorted({op for op, _ in unsupported})
        first = {op: nm for op, nm in reversed(unsupported)}
        names = ", ".join(f"{op} (node '{first[op]}')" for op in ops)
        raise InputError(f"unsupported ONNX operators: {names}; set skip_unsupported = true "
                         "to treat them as MAC-free", source=src, field=field,
                         allowed=", ".join(GEMM_OPS) + " and MAC-free operators")

    producer = {}
    layer_of_node: dict[int, Layer] = {}
    for idx, n in enumerate(g.node):
        for o in n.output:
            producer[o] = idx
        if n.op_type in GEMM_OPS:
            try:
                layer_of_node[idx] = _layer(n, idx, shapes, inits, batch, src, field)
            except InputError as exc:
                if exc.source is not None:
                    raise
                raise InputError(f"{exc.field}: {exc.message}", source=src, field=field,
                                 allowed=exc.allowed) from None

    node_names = {n.name: idx for idx, n in enumerate(g.node) if n.name}

    def cone(idx: int) -> set[int]:
        seen, stack = set(), [idx]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            stack.extend(producer[t] for t in g.node[i].input if t in producer)
        return {i for i in seen if i in layer_of_node}

    cones = []
    for e, ex in enumerate(exits):
        if not isinstance(ex, str):
            raise InputError(f"exits of an ONNX model are node or tensor names, got {ex!r}",
                             source=src, field=f"exits[{e}]")
        if ex in node_names:
            idx = node_names[ex]
        elif ex in producer:
            idx = producer[ex]
        else:
            known = [n.name for n in g.node if n.name] + [o.name for o in g.output]
            raise InputError(f"no node or tensor named '{ex}' in '{path}'"
                             f"{did_you_mean(ex, known)}", source=src, field=f"exits[{e}]",
                             allowed=[o.name for o in g.output])
        c = cone(idx)
        if not c:
            raise InputError(f"exit '{ex}' depends on no Conv/Gemm/MatMul layer",
                             source=src, field=f"exits[{e}]")
        if cones and _macs(c, layer_of_node) <= _macs(cones[-1], layer_of_node):
            raise InputError(f"exits must be listed from the shallowest to the final one: "
                             f"exit '{ex}' needs no more MACs than exit '{exits[e - 1]}'",
                             source=src, field=f"exits[{e}]")
        cones.append(c)
    placed: list[int] = []
    done: set[int] = set()
    exit_layers = []
    for e, c in enumerate(cones):
        new = sorted(c - done)
        if not new:
            raise InputError(f"exit '{exits[e]}' adds no layer after the previous exit",
                             source=src, field=f"exits[{e}]")
        placed.extend(new)
        done.update(new)
        exit_layers.append(len(placed) - 1)
    orphans = sorted(set(layer_of_node) - done)
    if orphans:
        names = ", ".join(layer_of_node[i].name for i in orphans[:5])
        raise InputError(f"layers feed no exit: {names}; name the exit they lead to",
                         source=src, field="exits")
    last = cones[-1]
    head = tuple(i not in last for i in placed)
    return [layer_of_node[i] for i in placed], exit_layers, head


def _macs(cone: set[int], layers: dict) -> int:
    return sum(layers[i].macs for i in cone)


def _layer(n, idx, shapes, inits, batch, src, field) -> Layer:
    name = n.name or f"{n.op_type}_{idx}"

    def shape(t):
        s = shapes.get(t)
        if s is None or any(not isinstance(d, int) for d in s[1:]):
            raise InputError(f"node '{name}' ({n.op_type}): shape of '{t}' unknown after "
                             f"shape inference ({s})", source=src, field=field)
        return s

    if len(n.input) < 2 or not n.output:
        raise InputError(f"node '{name}' ({n.op_type}): needs 2 inputs and an output, has "
                         f"{len(n.input)} and {len(n.output)}", source=src, field=field)
    attrs = {a.name: a for a in n.attribute}
    if n.op_type == "Conv":
        x, w, y = shape(n.input[0]), shape(n.input[1]), shape(n.output[0])
        group = attrs["group"].i if "group" in attrs else 1
        cout, cin_g, ksz = w[0], w[1], math.prod(w[2:])
        return Layer(name, "conv", rows=math.prod(y[2:]), reduction=cin_g * ksz,
                     cols=cout // group, groups=group, in_elems=math.prod(x[1:]),
                     weight_elems=cout * cin_g * ksz)
    if n.op_type == "Gemm":
        a, b = shape(n.input[0]), shape(n.input[1])
        ta = attrs["transA"].i if "transA" in attrs else 0
        tb = attrs["transB"].i if "transB" in attrs else 0
        m, k = (a[1], a[0]) if ta else (a[0], a[1])
        cols = b[0] if tb else b[1]
        rows = 1 if not isinstance(m, int) else max(m // batch, 1)
        shared = n.input[1] in inits
        return Layer(name, "fc" if shared else "matmul", rows=rows, reduction=k, cols=cols,
                     in_elems=rows * k, weight_elems=k * cols, weights_shared=shared)
    # MatMul (numpy semantics)
    a, b = shapes.get(n.input[0]), shapes.get(n.input[1])
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        raise InputError(f"node '{name}' (MatMul): operands of rank >= 2 with known shapes "
                         f"needed, got {a} and {b}", source=src, field=field)
    m, k, cols = a[-2], a[-1], b[-1]
    lead = list(a[:-2])
    shared = n.input[1] in inits
    if lead:
        lead = lead[1:]                       # first dimension = batch
        rows_m = m
    else:                                     # 2-D A: its rows are the batch
        rows_m = 1 if not isinstance(m, int) else max(m // batch, 1)
    if any(not isinstance(d, int) for d in [*lead, rows_m, k, cols]):
        raise InputError(f"node '{name}' (MatMul): symbolic dimensions beyond the batch "
                         f"({a} x {b})", source=src, field=field)
    if shared:
        rows, groups = rows_m * math.prod(lead), 1
    else:
        rows, groups = rows_m, math.prod(lead)
    return Layer(name, "fc" if shared else "matmul", rows=rows, reduction=k, cols=cols,
                 groups=groups, in_elems=rows * k * groups,
                 weight_elems=k * cols * groups, weights_shared=shared)
