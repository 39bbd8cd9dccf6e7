"""Float .tflite front end (decoded with the `tflite` package's generated reader).

Supported float32 ops: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL, AVERAGE_POOL_2D,
MAX_POOL_2D, RESHAPE, SOFTMAX, LOGISTIC, TANH, CONCATENATION, PAD, MEAN, RELU, RELU6,
RELU_N1_TO_1 (standalone activations fuse into their producer when possible). The layouts are
already TFLite's, so weights pass through unchanged.
"""
from __future__ import annotations

import numpy as np

from ...errors import ModelError, UnsupportedOpError
from ...tflite import schema
from ..graph import Graph, Node

_ACT_NAMES = {v: k for k, v in schema.ACTIVATIONS.items()}
_FUSABLE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D"}
_NP = {0: np.float32, 2: np.int32, 4: np.int64}


def _options(op, cls):
    tab = op.BuiltinOptions()
    if tab is None:
        return None
    o = cls()
    o.Init(tab.Bytes, tab.Pos)
    return o


def from_tflite(blob: bytes) -> Graph:
    try:
        import tflite
    except ImportError as exc:
        raise ModelError("reading float .tflite models needs the 'tflite' package (pip install tflite)") from exc
    try:
        m = tflite.Model.GetRootAsModel(blob, 0)
        if m.SubgraphsLength() != 1:
            raise UnsupportedOpError(f"models with {m.SubgraphsLength()} subgraphs are not supported")
        sg = m.Subgraphs(0)
    except (IndexError, ValueError) as exc:
        raise ModelError(f"malformed .tflite flatbuffer: {exc}") from exc

    def tname(i):
        return sg.Tensors(i).Name().decode(errors="replace") or f"t{i}"

    def tdata(i):
        t = sg.Tensors(i)
        b = m.Buffers(t.Buffer())
        if b is None or b.DataLength() == 0:
            return None
        if t.Type() not in _NP:
            raise UnsupportedOpError(f"tensor {tname(i)}: constant type {schema.TENSOR_TYPE_NAMES.get(t.Type())} "
                                     "(only float32 models can be converted)")
        return np.frombuffer(b.DataAsNumpy().tobytes(), _NP[t.Type()]).reshape(t.ShapeAsNumpy())

    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        if t.Type() not in (0, 2, 4):
            raise UnsupportedOpError(f"tensor {tname(i)} has type {schema.TENSOR_TYPE_NAMES.get(t.Type())}; "
                                     "ember convert takes float32 .tflite models")

    nodes: list = []
    producer: dict = {}
    alias: dict = {}
    consumers: dict = {}
    for k in range(sg.OperatorsLength()):
        for i in sg.Operators(k).InputsAsNumpy():
            if i >= 0:
                consumers[int(i)] = consumers.get(int(i), 0) + 1
    for i in sg.OutputsAsNumpy():
        consumers[int(i)] = consumers.get(int(i), 0) + 1

    def R(name):
        while name in alias:
            name = alias[name]
        return name

    def add(op, ins, out, attrs):
        n = Node(op, [R(tname(i)) for i in ins], [tname(out)], attrs, name=tname(out))
        nodes.append(n)
        producer[tname(out)] = (n, out)

    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        oc = m.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = schema.BUILTIN_OPERATOR_NAMES.get(code, f"builtin {code}")
        ins = [int(i) for i in op.InputsAsNumpy()]
        out = int(op.OutputsAsNumpy()[0])
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            cls = tflite.Conv2DOptions if name == "CONV_2D" else tflite.DepthwiseConv2DOptions
            o = _options(op, cls)
            w = tdata(ins[1])
            b = tdata(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            if w is None:
                raise UnsupportedOpError(f"{name} {tname(out)}: weights must be constant")
            add(name, [ins[0]], out, {
                "weights": w.astype(np.float64), "bias": None if b is None else b.astype(np.float64),
                "stride": (o.StrideH(), o.StrideW()), "dilation": (o.DilationHFactor(), o.DilationWFactor()),
                "padding": "SAME" if o.Padding() == 0 else "VALID",
                "act": _ACT_NAMES[o.FusedActivationFunction()]})
        elif name == "FULLY_CONNECTED":
            o = _options(op, tflite.FullyConnectedOptions)
            w = tdata(ins[1])
            b = tdata(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            if w is None:
                raise UnsupportedOpError(f"FULLY_CONNECTED {tname(out)}: weights must be constant")
            add(name, [ins[0]], out, {"weights": w.astype(np.float64),
                                      "bias": None if b is None else b.astype(np.float64),
                                      "act": _ACT_NAMES[o.FusedActivationFunction() if o else 0]})
        elif name in ("ADD", "MUL"):
            o = _options(op, tflite.AddOptions if name == "ADD" else tflite.MulOptions)
            if any(tdata(i) is not None for i in ins):
                raise UnsupportedOpError(f"{name} {tname(out)}: constant operands are not supported")
            add(name, ins, out, {"act": _ACT_NAMES[o.FusedActivationFunction() if o else 0]})
        elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            o = _options(op, tflite.Pool2DOptions)
            add(name, ins[:1], out, {"filter": (o.FilterHeight(), o.FilterWidth()),
                                     "stride": (o.StrideH(), o.StrideW()),
                                     "padding": "SAME" if o.Padding() == 0 else "VALID",
                                     "act": _ACT_NAMES[o.FusedActivationFunction()]})
        elif name == "RESHAPE":
            add(name, ins[:1], out, {"shape": tuple(int(d) for d in sg.Tensors(out).ShapeAsNumpy())})
        elif name == "SOFTMAX":
            o = _options(op, tflite.SoftmaxOptions)
            add(name, ins, out, {"beta": o.Beta() if o else 1.0})
        elif name in ("LOGISTIC", "TANH"):
            add(name, ins, out, {})
        elif name == "CONCATENATION":
            o = _options(op, tflite.ConcatenationOptions)
            if o.FusedActivationFunction():
                raise UnsupportedOpError("CONCATENATION with a fused activation is not supported")
            add(name, ins, out, {"axis": o.Axis()})
        elif name == "PAD":
            add(name, ins[:1], out, {"paddings": [tuple(int(v) for v in p) for p in tdata(ins[1])]})
        elif name == "MEAN":
            o = _options(op, tflite.ReducerOptions)
            add(name, ins[:1], out, {"axes": tuple(int(a) for a in np.atleast_1d(tdata(ins[1]))),
                                     "keep_dims": bool(o.KeepDims()) if o else False})
        elif name in ("RELU", "RELU6", "RELU_N1_TO_1"):
            x = R(tname(ins[0]))
            p = producer.get(x)
            if p is not None and p[0].op in _FUSABLE and p[0].attrs.get("act", "NONE") == "NONE" \
                    and consumers.get(p[1], 0) == 1:
                node = p[0]
                node.attrs["act"] = name
                alias[tname(out)] = x
            else:
                add("CLAMP", ins, out, {"act": name})
        else:
            raise UnsupportedOpError(f"TFLite op {name} is not supported by ember convert")

    inputs = [tname(int(i)) for i in sg.InputsAsNumpy()]
    outputs = [R(tname(int(i))) for i in sg.OutputsAsNumpy()]
    g = Graph(inputs=inputs, outputs=outputs, nodes=nodes)
    shapes = {tname(int(i)): tuple([1] + [int(d) for d in sg.Tensors(int(i)).ShapeAsNumpy()[1:]])
              for i in sg.InputsAsNumpy()}
    g.infer_shapes(shapes)
    return g
