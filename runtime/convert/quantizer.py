"""Post-training int8 quantization of a float `Graph` into a TFLite flatbuffer (TFLite int8 spec).

- activations: int8 asymmetric, range [min, max] from calibration widened to contain 0;
  ops TFLite requires to keep their input's parameters (pooling, reshape, pad, concatenation)
  share one range; SOFTMAX/LOGISTIC output 1/256, -128 and TANH 1/128, 0 as TFLite demands.
- weights: int8 symmetric in [-127, 127], per output channel for CONV_2D (axis 0) and
  DEPTHWISE_CONV_2D (axis 3), per tensor for FULLY_CONNECTED unless per_channel_fc.
- biases: int32, scale = input_scale * weight_scale, zero point 0.
- fused activations stay fused; a standalone clamp becomes an int8->int8 QUANTIZE whose output
  range is the clamp's (exact for ReLU/ReLU6 since their lower bound lands on -128).
Where a source model fixes parameters that TFLite does not accept for an op (QDQ imports), an
int8->int8 QUANTIZE requantizes between them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import ModelError
from ..tflite.writer import ModelBuilder
from .graph import FIXED_OUTPUT_QPARAMS, SAME_QPARAMS_OPS, Graph, Node, resolve_pads, same_pads

INT32_MAX = 2**31 - 1


def round_half_away(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


def choose_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric int8 parameters for a real range (TFLite's nudged min/max rule)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo <= 1e-30:
        return 1.0 / 255.0, -128
    scale = (hi - lo) / 255.0
    zp = int(round_half_away(-128.0 - lo / scale))
    return float(np.float32(scale)), int(min(127, max(-128, zp)))


def quantize_weights(w: np.ndarray, axis: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 in [-127, 127]; axis None = per tensor. Returns (q, float32 scales)."""
    w = np.asarray(w, dtype=np.float64)
    if axis is None:
        maxabs = np.array([np.max(np.abs(w)) if w.size else 0.0])
    else:
        other = tuple(i for i in range(w.ndim) if i != axis)
        maxabs = np.max(np.abs(w), axis=other)
    scales = np.where(maxabs > 0, maxabs / 127.0, 1.0).astype(np.float32)
    return _quantize_with_scales(w, scales, axis), scales


def _quantize_with_scales(w, scales, axis):
    s = scales.astype(np.float64)
    if axis is not None:
        shape = [1] * w.ndim
        shape[axis] = -1
        s = s.reshape(shape)
    else:
        s = s[0]
    return np.clip(round_half_away(w / s), -127, 127).astype(np.int8)


def quantize_bias(b: np.ndarray, in_scale: float, w_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b_scale = (np.float64(np.float32(in_scale)) * w_scales.astype(np.float64)).astype(np.float32)
    q = round_half_away(np.asarray(b, np.float64) / b_scale.astype(np.float64))
    return np.clip(q, -INT32_MAX - 1, INT32_MAX).astype(np.int32), b_scale


@dataclass
class QuantizedModel:
    tflite: bytes
    qparams: dict                                   # tensor name -> (scale, zero_point)
    dequantized_weights: dict = field(default_factory=dict)   # node name -> {"weights","bias"} as float
    io_dtype: str = "int8"
    input_names: list = field(default_factory=list)
    output_names: list = field(default_factory=list)


class MissingRangeError(ModelError):
    """A tensor has neither fixed parameters nor a calibration range."""


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def assign_qparams(graph: Graph, ranges: dict) -> dict:
    """Parameters for every activation tensor. Tensors linked by ops that need equal parameters
    share one range; parameters fixed by the source model (QDQ) win, then by the op (SOFTMAX...);
    where a fixed tensor disagrees with its group, the emitter requantizes between them."""
    source_fixed = dict(graph.fixed_qparams)
    op_fixed = {n.outputs[0]: FIXED_OUTPUT_QPARAMS[n.op] for n in graph.nodes if n.op in FIXED_OUTPUT_QPARAMS}
    uf = _UnionFind()
    tensors = list(graph.inputs) + [o for n in graph.nodes for o in n.outputs]
    for t in tensors:
        uf.find(t)
    for n in graph.nodes:
        if n.op in SAME_QPARAMS_OPS:
            for i in n.inputs:
                uf.union(n.outputs[0], i)
    groups: dict = {}
    for t in tensors:
        groups.setdefault(uf.find(t), []).append(t)
    out = {}
    for members in groups.values():
        fixed_here = [source_fixed[m] for m in members if m in source_fixed]
        free = [m for m in members if m not in source_fixed and m not in op_fixed]
        if fixed_here:
            shared = fixed_here[0]
        elif free:
            rs = [ranges[m] for m in members if m in ranges]
            if not rs:
                raise MissingRangeError(f"no calibration range for tensor(s) {members}")
            shared = choose_qparams(min(r[0] for r in rs), max(r[1] for r in rs))
        else:
            shared = None
        for m in members:
            out[m] = source_fixed.get(m) or op_fixed.get(m) or shared
    return out


class _Emitter:
    def __init__(self, graph: Graph, qparams: dict, per_channel_fc: bool, io_dtype: str):
        self.g, self.qp, self.per_channel_fc, self.io_dtype = graph, qparams, per_channel_fc, io_dtype
        self.mb = ModelBuilder(description="ember convert")
        self.idx: dict = {}
        self.deq_weights: dict = {}
        self._n = 0

    def shape(self, name):
        s = list(self.g.shapes[name])
        if s:
            s[0] = 1
        return tuple(s)

    def act_tensor(self, name, qp=None):
        scale, zp = qp or self.qp[name]
        return self.mb.add_tensor(name, self.shape(name), "int8", scale=scale, zero_point=zp)

    def requant(self, src_idx, src_name, to_qp, suffix):
        """int8 -> int8 QUANTIZE of tensor src into new parameters; returns the new index."""
        name = f"{src_name}/{suffix}"
        idx = self.mb.add_tensor(name, self.shape(src_name), "int8", scale=to_qp[0], zero_point=to_qp[1])
        self.mb.add_operator("QUANTIZE", [src_idx], [idx])
        return idx

    def input_as(self, name, qp):
        """Index of tensor `name` carrying parameters qp (requantizing if they differ)."""
        if _same_qp(self.qp[name], qp):
            return self.idx[name]
        self._n += 1
        return self.requant(self.idx[name], name, qp, f"requant{self._n}")

    def run(self) -> QuantizedModel:
        g = self.g
        graph_inputs = []
        for name in g.inputs:
            if self.io_dtype == "float32":
                f = self.mb.add_tensor(name + "/float", self.shape(name), "float32")
                q = self.act_tensor(name)
                self.mb.add_operator("QUANTIZE", [f], [q])
                graph_inputs.append(f)
                self.idx[name] = q
            else:
                self.idx[name] = self.act_tensor(name)
                graph_inputs.append(self.idx[name])
        for node in g.nodes:
            getattr(self, "emit_" + node.op.lower())(node)
        graph_outputs = []
        for name in g.outputs:
            if self.io_dtype == "float32":
                f = self.mb.add_tensor(name + "/float", self.shape(name), "float32")
                self.mb.add_operator("DEQUANTIZE", [self.idx[name]], [f])
                graph_outputs.append(f)
            else:
                graph_outputs.append(self.idx[name])
        self.mb.set_io(graph_inputs, graph_outputs)
        return QuantizedModel(self.mb.build(), dict(self.qp), self.deq_weights, self.io_dtype,
                              list(g.inputs), list(g.outputs))

    # ---- helpers ----------------------------------------------------------------------------
    def output(self, node, required_qp=None):
        """Create the node's output tensor. If TFLite requires parameters different from the
        graph's for this op, the op writes a temporary and a QUANTIZE converts. Returns
        (index the op writes, finish) where finish() wires the requantization."""
        name = node.outputs[0]
        want = self.qp[name]
        if required_qp is None or _same_qp(required_qp, want):
            self.idx[name] = self.act_tensor(name)
            return self.idx[name], lambda: None
        tmp = self.mb.add_tensor(name + "/raw", self.shape(name), "int8",
                                 scale=required_qp[0], zero_point=required_qp[1])

        def finish():
            self.idx[name] = self.act_tensor(name)
            self.mb.add_operator("QUANTIZE", [tmp], [self.idx[name]])
        return tmp, finish

    def padding_for(self, node, x_name, kh, kw, pad_value_ok=True):
        """TFLite padding name for the node; inserts a PAD op for asymmetric explicit pads."""
        a = node.attrs
        h, w = self.g.shapes[x_name][1:3]
        pads = resolve_pads(a, h, w, kh, kw)
        if not any(pads):
            return "VALID", self.idx[x_name]
        sh, sw = a.get("stride", (1, 1))
        dh, dw = a.get("dilation", (1, 1))
        if pads == same_pads(h, kh, sh, dh) + same_pads(w, kw, sw, dw):
            return "SAME", self.idx[x_name]
        if not pad_value_ok:
            raise ModelError(f"node {node.name}: explicit padding {pads} is not expressible in TFLite "
                             f"{node.op} (only SAME/VALID)")
        t, b, l, r = pads
        pad_name = f"{x_name}/pad_for_{node.name}"
        shape = list(self.shape(x_name))
        shape[1] += t + b
        shape[2] += l + r
        p = self.mb.add_tensor(pad_name + "/paddings", (4, 2), "int32",
                               data=np.array([[0, 0], [t, b], [l, r], [0, 0]], np.int32))
        out = self.mb.add_tensor(pad_name, shape, "int8", scale=self.qp[x_name][0], zero_point=self.qp[x_name][1])
        self.mb.add_operator("PAD", [self.idx[x_name], p], [out])
        return "VALID", out

    def conv_like(self, node, depthwise):
        a = node.attrs
        x = node.inputs[0]
        in_s = self.qp[x][0]
        w = np.asarray(a["weights"], np.float64)
        if "weights_q" in a:          # already quantized by the source model (QDQ)
            wq, ws = a["weights_q"], np.asarray(a["weights_scale"], np.float32)
            if ws.size == 1:
                ws = np.full(w.shape[3 if depthwise else 0], ws[0], np.float32)
        else:
            wq, ws = quantize_weights(w, 3 if depthwise else 0)
        bias = a.get("bias")
        if bias is None:
            bias = np.zeros(wq.shape[3 if depthwise else 0])
        if "bias_q" in a:
            bq = np.asarray(a["bias_q"], np.int32)
            bs = (np.float64(np.float32(in_s)) * ws.astype(np.float64)).astype(np.float32)
        else:
            bq, bs = quantize_bias(bias, in_s, ws)
        self.deq_weights[node.name] = {
            "weights": wq.astype(np.float64) * ws.reshape([-1, 1, 1, 1] if not depthwise else [1, 1, 1, -1]),
            "bias": bq.astype(np.float64) * bs.astype(np.float64)}
        kh, kw = wq.shape[1:3]
        padding, xi = self.padding_for(node, x, kh, kw)
        wi = self.mb.add_tensor(node.name + "/weights", wq.shape, "int8", data=wq, scale=ws, zero_point=0,
                                quantized_dimension=3 if depthwise else 0)
        bi = self.mb.add_tensor(node.name + "/bias", bq.shape, "int32", data=bq, scale=bs, zero_point=0)
        yi, finish = self.output(node)
        sh, sw = a.get("stride", (1, 1))
        dh, dw = a.get("dilation", (1, 1))
        opts = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh,
                "dilation_w_factor": dw, "fused_activation_function": a.get("act", "NONE")}
        if depthwise:
            opts["depth_multiplier"] = wq.shape[3] // self.g.shapes[x][3]
        self.mb.add_operator("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [xi, wi, bi], [yi], opts)
        finish()

    # ---- ops -----------------------------------------------------------------------------------
    def emit_conv_2d(self, node):
        self.conv_like(node, depthwise=False)

    def emit_depthwise_conv_2d(self, node):
        self.conv_like(node, depthwise=True)

    def emit_fully_connected(self, node):
        a = node.attrs
        x = node.inputs[0]
        in_s = self.qp[x][0]
        w = np.asarray(a["weights"], np.float64)
        if "weights_q" in a:
            wq, ws = a["weights_q"], np.asarray(a["weights_scale"], np.float32)
        else:
            wq, ws = quantize_weights(w, 0 if self.per_channel_fc else None)
        per_channel = ws.size > 1
        ws_full = ws if per_channel else np.full(wq.shape[0], ws[0], np.float32)
        bias = a.get("bias")
        if "bias_q" in a:
            bq = np.asarray(a["bias_q"], np.int32)
            bs = (np.float64(np.float32(in_s)) * ws_full.astype(np.float64)).astype(np.float32)
        else:
            bq, bs = quantize_bias(np.zeros(wq.shape[0]) if bias is None else bias, in_s, ws_full)
        self.deq_weights[node.name] = {"weights": wq.astype(np.float64) * ws_full.astype(np.float64)[:, None],
                                       "bias": bq.astype(np.float64) * bs.astype(np.float64)}
        wi = self.mb.add_tensor(node.name + "/weights", wq.shape, "int8", data=wq, scale=ws, zero_point=0,
                                quantized_dimension=0)
        bi = self.mb.add_tensor(node.name + "/bias", bq.shape, "int32", data=bq,
                                scale=bs if per_channel else bs[:1], zero_point=0)
        yi, finish = self.output(node)
        self.mb.add_operator("FULLY_CONNECTED", [self.idx[x], wi, bi], [yi],
                             {"fused_activation_function": a.get("act", "NONE")})
        finish()

    def _pool(self, node, op):
        a = node.attrs
        x = node.inputs[0]
        kh, kw = a["filter"]
        max_ok = op == "MAX_POOL_2D" and self.qp[x][1] == -128   # padding with real 0 never wins
        padding, xi = self.padding_for(node, x, kh, kw, pad_value_ok=bool(max_ok))
        yq = self.qp[node.outputs[0]]
        if not _same_qp(self.qp[x], yq):
            xi = self.requant(xi, x, yq, f"to_{node.name}")
        yi, finish = self.output(node)
        sh, sw = a.get("stride", (1, 1))
        self.mb.add_operator(op, [xi], [yi], {"padding": padding, "stride_h": sh, "stride_w": sw,
                                              "filter_height": kh, "filter_width": kw,
                                              "fused_activation_function": a.get("act", "NONE")})
        finish()

    def emit_max_pool_2d(self, node):
        self._pool(node, "MAX_POOL_2D")

    def emit_average_pool_2d(self, node):
        self._pool(node, "AVERAGE_POOL_2D")

    def _binary(self, node, op):
        yi, finish = self.output(node)
        self.mb.add_operator(op, [self.idx[i] for i in node.inputs], [yi],
                             {"fused_activation_function": node.attrs.get("act", "NONE")})
        finish()

    def emit_add(self, node):
        self._binary(node, "ADD")

    def emit_mul(self, node):
        self._binary(node, "MUL")

    def emit_reshape(self, node):
        y = node.outputs[0]
        xi = self.input_as(node.inputs[0], self.qp[y])
        shape = np.asarray(self.shape(y), np.int32)
        si = self.mb.add_tensor(node.name + "/shape", shape.shape, "int32", data=shape)
        yi, finish = self.output(node)
        self.mb.add_operator("RESHAPE", [xi, si], [yi], {"new_shape": [int(v) for v in shape]})
        finish()

    def emit_pad(self, node):
        y = node.outputs[0]
        xi = self.input_as(node.inputs[0], self.qp[y])
        pads = np.asarray(node.attrs["paddings"], np.int32)
        pi = self.mb.add_tensor(node.name + "/paddings", pads.shape, "int32", data=pads)
        yi, finish = self.output(node)
        self.mb.add_operator("PAD", [xi, pi], [yi], {})
        finish()

    def emit_concatenation(self, node):
        y = node.outputs[0]
        ins = [self.input_as(i, self.qp[y]) for i in node.inputs]
        yi, finish = self.output(node)
        axis = node.attrs["axis"] % len(self.g.shapes[y])
        self.mb.add_operator("CONCATENATION", ins, [yi], {"axis": axis, "fused_activation_function": "NONE"})
        finish()

    def emit_mean(self, node):
        axes = np.asarray([a % len(self.g.shapes[node.inputs[0]]) for a in node.attrs["axes"]], np.int32)
        ai = self.mb.add_tensor(node.name + "/axes", axes.shape, "int32", data=axes)
        yi, finish = self.output(node)
        self.mb.add_operator("MEAN", [self.idx[node.inputs[0]], ai], [yi],
                             {"keep_dims": bool(node.attrs.get("keep_dims", True))})
        finish()

    def _fixed(self, node, op, options=None):
        yi, finish = self.output(node, required_qp=FIXED_OUTPUT_QPARAMS[op])
        self.mb.add_operator(op, [self.idx[node.inputs[0]]], [yi], options)
        finish()

    def emit_softmax(self, node):
        self._fixed(node, "SOFTMAX", {"beta": float(node.attrs.get("beta", 1.0))})

    def emit_logistic(self, node):
        self._fixed(node, "LOGISTIC")

    def emit_tanh(self, node):
        self._fixed(node, "TANH")

    def emit_clamp(self, node):
        y = node.outputs[0]
        self.idx[y] = self.act_tensor(y)
        self.mb.add_operator("QUANTIZE", [self.idx[node.inputs[0]]], [self.idx[y]])


def _same_qp(a, b) -> bool:
    return int(a[1]) == int(b[1]) and math.isclose(float(a[0]), float(b[0]), rel_tol=1e-6)


def quantize_graph(graph: Graph, ranges: dict, per_channel_fc: bool = False,
                   io_dtype: str = "int8") -> QuantizedModel:
    if io_dtype not in ("int8", "float32"):
        raise ModelError(f"io_dtype must be int8 or float32, got {io_dtype!r}")
    graph.validate()
    qparams = assign_qparams(graph, ranges)
    return _Emitter(graph, qparams, per_channel_fc, io_dtype).run()
