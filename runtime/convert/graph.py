"""The quantizer's float graph IR and its numpy evaluator.

Front ends (scikit-learn, ONNX, float .tflite) translate a model into a `Graph`: activations are
NHWC (or [batch, features]) float32 tensors named by strings; each `Node` is one TFLite-like
operation whose op names are TFLite builtin names. Constants (weights, biases) live in
`Node.attrs`, already in TFLite layout: CONV_2D weights OHWI, DEPTHWISE_CONV_2D 1HW(C*m),
FULLY_CONNECTED [units, in]. Fused activations are `attrs["act"]` in NONE/RELU/RELU6/RELU_N1_TO_1;
`attrs["clip"] = (lo, hi)` narrows an output range (ONNX Clip) beyond what `act` expresses.

`Graph.run` evaluates in float64 and can hand every produced tensor to an observer, which is
how calibration and the fake-quant error report see intermediate values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..errors import ModelError

# Ops whose int8 output must carry their input's quantization (TFLite kernels require it).
SAME_QPARAMS_OPS = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD", "CONCATENATION"}
# Ops with fixed int8 output parameters in TFLite.
FIXED_OUTPUT_QPARAMS = {"SOFTMAX": (1.0 / 256, -128), "LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass
class Node:
    op: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    name: str = ""


@dataclass
class Graph:
    inputs: list                       # activation input names
    outputs: list                      # output names
    nodes: list                        # topologically ordered
    shapes: dict = field(default_factory=dict)   # name -> shape with batch dim (batch 1)
    # quantization parameters fixed by the source model (QDQ graphs): name -> (scale, zero_point)
    fixed_qparams: dict = field(default_factory=dict)
    output_labels: Optional[list] = None
    # inputs whose source layout differs from the IR's: name -> permutation source -> IR (NCHW->NHWC)
    input_perm: dict = field(default_factory=dict)
    # outputs that are NHWC in the IR but NCHW in the source model
    output_nhwc: list = field(default_factory=list)

    def producers(self) -> dict:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumers(self) -> dict:
        out: dict = {}
        for n in self.nodes:
            for i in n.inputs:
                out.setdefault(i, []).append(n)
        return out

    def validate(self) -> None:
        known = set(self.inputs)
        for n in self.nodes:
            if n.op not in EVALUATORS:
                raise ModelError(f"node {n.name or n.op}: op {n.op} is not supported by the quantizer")
            for i in n.inputs:
                if i not in known:
                    raise ModelError(f"node {n.name or n.op}: input {i!r} is not produced before use")
            act = n.attrs.get("act", "NONE")
            if act not in ACTIVATIONS:
                raise ModelError(f"node {n.name or n.op}: fused activation {act} is not supported")
            known.update(n.outputs)
        for o in self.outputs:
            if o not in known:
                raise ModelError(f"graph output {o!r} is not produced by any node")

    def run(self, feeds: dict, observe: Optional[Callable[[str, np.ndarray], Optional[np.ndarray]]] = None,
            weights: Optional[Callable[[Node], dict]] = None) -> dict:
        """Evaluate; returns every tensor. `observe(name, value)` may return a replacement value
        (used for fake quantization); `weights(node)` may override constant attrs."""
        env = {}
        for name in self.inputs:
            if name not in feeds:
                raise ModelError(f"missing input {name!r}")
            v = np.asarray(feeds[name], dtype=np.float64)
            if observe is not None:
                r = observe(name, v)
                v = v if r is None else r
            env[name] = v
        for n in self.nodes:
            attrs = n.attrs if weights is None else {**n.attrs, **weights(n)}
            outs = EVALUATORS[n.op](attrs, *[env[i] for i in n.inputs])
            if not isinstance(outs, tuple):
                outs = (outs,)
            for name, v in zip(n.outputs, outs):
                if observe is not None:
                    r = observe(name, v)
                    v = v if r is None else r
                env[name] = v
        return env

    def infer_shapes(self, input_shapes: dict) -> None:
        feeds = {k: np.zeros(s) for k, s in input_shapes.items()}
        env = self.run(feeds)
        self.shapes = {k: tuple(v.shape) for k, v in env.items()}


# ---- float kernels (NHWC) ------------------------------------------------------------------------
def apply_act(y, act, clip=None):
    if act == "RELU":
        y = np.maximum(y, 0.0)
    elif act == "RELU6":
        y = np.clip(y, 0.0, 6.0)
    elif act == "RELU_N1_TO_1":
        y = np.clip(y, -1.0, 1.0)
    if clip is not None:
        y = np.clip(y, clip[0], clip[1])
    return y


def same_pads(n, k, stride, dilation):
    eff = (k - 1) * dilation + 1
    out = -(-n // stride)
    total = max((out - 1) * stride + eff - n, 0)
    return total // 2, total - total // 2


def resolve_pads(attrs, h, w, kh, kw):
    """Explicit (top, bottom, left, right) pads from attrs['padding'] (SAME/VALID or 4-tuple)."""
    pad = attrs.get("padding", "VALID")
    sh, sw = attrs.get("stride", (1, 1))
    dh, dw = attrs.get("dilation", (1, 1))
    if pad == "VALID":
        return (0, 0, 0, 0)
    if pad == "SAME":
        return same_pads(h, kh, sh, dh) + same_pads(w, kw, sw, dw)
    return tuple(int(p) for p in pad)


def _windows(x, kh, kw, stride, dilation, pads, fill=0.0):
    """[N, OH, OW, KH, KW, C] view of x's sliding windows."""
    t, b, l, r = pads
    if any(pads):
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    n, h, w, c = x.shape
    sh, sw = stride
    dh, dw = dilation
    oh = (h - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w - ((kw - 1) * dw + 1)) // sw + 1
    if oh <= 0 or ow <= 0:
        raise ModelError(f"window {kh}x{kw} does not fit input {h}x{w}")
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, oh, ow, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]), writeable=False)


def conv2d(a, x):
    w = a["weights"]
    kh, kw = w.shape[1:3]
    pads = resolve_pads(a, x.shape[1], x.shape[2], kh, kw)
    win = _windows(x, kh, kw, a.get("stride", (1, 1)), a.get("dilation", (1, 1)), pads)
    y = np.tensordot(win, w, axes=([3, 4, 5], [1, 2, 3]))
    if a.get("bias") is not None:
        y = y + a["bias"]
    return apply_act(y, a.get("act", "NONE"), a.get("clip"))


def depthwise_conv2d(a, x):
    w = a["weights"]                      # [1, KH, KW, C*m]
    kh, kw = w.shape[1:3]
    mult = w.shape[3] // x.shape[3]
    pads = resolve_pads(a, x.shape[1], x.shape[2], kh, kw)
    win = _windows(x, kh, kw, a.get("stride", (1, 1)), a.get("dilation", (1, 1)), pads)
    if mult > 1:
        win = np.repeat(win, mult, axis=-1)
    y = np.einsum("nhwijc,ijc->nhwc", win, w[0])
    if a.get("bias") is not None:
        y = y + a["bias"]
    return apply_act(y, a.get("act", "NONE"), a.get("clip"))


def fully_connected(a, x):
    w = a["weights"]
    y = x.reshape(-1, w.shape[1]) @ w.T
    if a.get("bias") is not None:
        y = y + a["bias"]
    return apply_act(y, a.get("act", "NONE"), a.get("clip"))


def pool(a, x, kind):
    kh, kw = a["filter"]
    pads = resolve_pads(a, x.shape[1], x.shape[2], kh, kw)
    stride = a.get("stride", (1, 1))
    if kind == "max":
        y = _windows(x, kh, kw, stride, (1, 1), pads, fill=-np.inf).max(axis=(3, 4))
    else:   # TFLite averages over the valid (unpadded) part of each window
        s = _windows(x, kh, kw, stride, (1, 1), pads).sum(axis=(3, 4))
        ones = np.ones((1,) + x.shape[1:3] + (1,))
        cnt = _windows(ones, kh, kw, stride, (1, 1), pads).sum(axis=(3, 4))
        y = s / cnt
    return apply_act(y, a.get("act", "NONE"), a.get("clip"))


def binary(a, x, y, kind):
    r = x + y if kind == "add" else x * y
    return apply_act(r, a.get("act", "NONE"), a.get("clip"))


def reshape(a, x):
    shape = list(a["shape"])
    shape[0] = x.shape[0] if shape[0] in (1, -1) else shape[0]
    return x.reshape(shape)


def softmax(a, x):
    z = a.get("beta", 1.0) * (x - x.max(axis=-1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def concat(a, *xs):
    return apply_act(np.concatenate(xs, axis=a["axis"]), a.get("act", "NONE"), a.get("clip"))


def pad(a, x):
    return np.pad(x, a["paddings"], constant_values=0.0)


def mean(a, x):
    return x.mean(axis=tuple(a["axes"]), keepdims=a.get("keep_dims", True))


def relu_like(a, x):
    return apply_act(x, a.get("act", "RELU"), a.get("clip"))


EVALUATORS = {
    "CONV_2D": conv2d,
    "DEPTHWISE_CONV_2D": depthwise_conv2d,
    "FULLY_CONNECTED": fully_connected,
    "MAX_POOL_2D": lambda a, x: pool(a, x, "max"),
    "AVERAGE_POOL_2D": lambda a, x: pool(a, x, "avg"),
    "ADD": lambda a, x, y: binary(a, x, y, "add"),
    "MUL": lambda a, x, y: binary(a, x, y, "mul"),
    "RESHAPE": reshape,
    "SOFTMAX": softmax,
    "LOGISTIC": lambda a, x: 1.0 / (1.0 + np.exp(-x)),
    "TANH": lambda a, x: np.tanh(x),
    "CONCATENATION": concat,
    "PAD": pad,
    "MEAN": mean,
    # standalone clamp (an activation that could not be fused); emitted as an int8 requantization
    "CLAMP": relu_like,
}
