"""ONNX front end: float graphs and QDQ graphs (onnxruntime.quantization.quantize_static).

Supported: Conv (group 1 or depthwise), Gemm, MatMul (+ Add of a constant bias), Relu, Clip,
MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Add, Mul, Softmax, Sigmoid, Tanh,
Concat, Pad (constant 0), Identity, Dropout, and QuantizeLinear/DequantizeLinear pairs.

Layout: 4-D activations are NCHW in ONNX and NHWC in the IR and in the written .tflite, so the
converted model takes NHWC input (convert() transposes NCHW calibration data itself; see
`Graph.input_perm`). Flattening an NHWC tensor yields HWC order instead of ONNX's CHW, so the
FULLY_CONNECTED that consumes it gets its weight columns permuted to match.

QDQ graphs: DequantizeLinear of an initializer gives quantized weights/biases that are kept as
they are; each activation Q->DQ pair fixes that tensor's int8 parameters (uint8 parameters are
shifted to int8: zero_point - 128). Tensors without Q/DQ inherit parameters where TFLite needs
them equal (pooling, reshape...), or come from calibration.
"""
from __future__ import annotations

import numpy as np

from ...errors import ModelError, UnsupportedOpError
from ..graph import Graph, Node

_NCHW_TO_NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}
_FUSABLE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D"}


def _attrs(node) -> dict:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Const:
    """A constant: float value plus, for QDQ weights, the quantized form."""

    def __init__(self, value, q=None, scale=None, zp=None, axis=None):
        self.value = np.asarray(value)
        self.q, self.scale, self.zp, self.axis = q, scale, zp, axis


class _Importer:
    def __init__(self, model):
        import onnx
        from onnx import numpy_helper
        if isinstance(model, (bytes, bytearray)):
            model = onnx.load_model_from_string(bytes(model))
        self.model = model
        g = model.graph
        self.consts = {t.name: _Const(numpy_helper.to_array(t)) for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                a = _attrs(n)
                if "value" not in a:
                    raise UnsupportedOpError(f"Constant node {n.name}: only 'value' tensors are supported")
                self.consts[n.output[0]] = _Const(numpy_helper.to_array(a["value"]))
        self.alias: dict = {}
        self.fixed_raw: dict = {}          # onnx name -> (scale, zp) from Q/DQ pairs
        self.nodes: list = []
        self.layout4d: set = set()         # IR tensors that are NHWC (ONNX NCHW)
        self.flatten_perm: dict = {}       # IR tensor -> column permutation (CHW index per HWC slot)
        self.shapes: dict = {}             # IR tensor -> IR shape (batch 1)
        self.producer: dict = {}
        self.graph_inputs = [i for i in g.input if i.name not in self.consts]

    # ---- helpers --------------------------------------------------------------------------------
    def R(self, name):
        seen = 0
        while name in self.alias:
            name = self.alias[name]
            seen += 1
            if seen > 10000:
                raise ModelError("alias cycle in ONNX graph")
        return name

    def const(self, name):
        c = self.consts.get(self.R(name)) or self.consts.get(name)
        return c

    def add(self, op, inputs, output, attrs=None, name=""):
        node = Node(op, [self.R(i) for i in inputs], [output], attrs or {}, name=name or output)
        self.nodes.append(node)
        self.producer[output] = node
        return node

    # ---- QDQ pre-pass ----------------------------------------------------------------------------
    def strip_qdq(self, onnx_nodes):
        from onnx import numpy_helper  # noqa: F401
        q_of = {}
        rest = []
        for n in onnx_nodes:
            if n.op_type == "Constant":
                continue
            if n.op_type == "QuantizeLinear":
                scale, zp = self._qparams(n)
                q_of[n.output[0]] = (n.input[0], scale, zp, _attrs(n).get("axis", 1))
                continue
            if n.op_type == "DequantizeLinear":
                src = n.input[0]
                scale, zp = self._qparams(n)
                axis = _attrs(n).get("axis", 1)
                if src in self.consts:      # quantized weight or bias
                    qv = self.consts[src].value
                    s = np.asarray(scale, np.float64)
                    z = np.asarray(zp, np.float64)
                    if s.size > 1:
                        shp = [1] * qv.ndim
                        shp[axis] = -1
                        s, z = s.reshape(shp), z.reshape(shp)
                    fv = (qv.astype(np.float64) - z) * s
                    self.consts[n.output[0]] = _Const(fv, q=qv, scale=np.asarray(scale), zp=np.asarray(zp),
                                                      axis=axis if np.asarray(scale).size > 1 else None)
                    continue
                if src in q_of:
                    x, qs, qz, _ = q_of[src]
                    if np.asarray(qs).size != 1:
                        raise UnsupportedOpError("per-channel activation quantization is not supported")
                    self.alias[n.output[0]] = x
                    self.fixed_raw.setdefault(x, (float(np.asarray(qs).ravel()[0]), int(np.asarray(qz).ravel()[0])))
                    continue
                raise UnsupportedOpError(f"DequantizeLinear {n.name}: input is neither a constant nor a "
                                         "QuantizeLinear output")
            rest.append(n)
        for qname in q_of:
            used = any(qname in n.input for n in rest) or any(o.name == qname for o in self.model.graph.output)
            if used:
                raise UnsupportedOpError(f"QuantizeLinear output {qname} is used without a DequantizeLinear")
        return rest

    def _qparams(self, n):
        scale = self.consts[n.input[1]].value if n.input[1] in self.consts else None
        if scale is None:
            raise UnsupportedOpError(f"{n.op_type} {n.name}: scale must be a constant")
        if len(n.input) > 2 and n.input[2]:
            zc = self.consts[n.input[2]].value
        else:
            zc = np.zeros_like(scale, dtype=np.int8)
        zp = zc.astype(np.int64)
        if zc.dtype == np.uint8:
            zp = zp - 128          # same real values in int8
        elif zc.dtype not in (np.int8, np.int32):
            raise UnsupportedOpError(f"{n.op_type} {n.name}: zero point type {zc.dtype} is not supported")
        return np.asarray(scale, np.float64), zp

    # ---- translation -------------------------------------------------------------------------------
    def run(self) -> Graph:
        g = self.model.graph
        onnx_nodes = self.strip_qdq(list(g.node))
        consumers: dict = {}
        for n in onnx_nodes:
            for i in n.input:
                consumers[self.R(i)] = consumers.get(self.R(i), 0) + 1
        for o in g.output:
            consumers[self.R(o.name)] = consumers.get(self.R(o.name), 0) + 1
        self.consumers = consumers

        inputs, input_perm = [], {}
        for vi in self.graph_inputs:
            dims = [d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim]
            dims[0] = 1
            if len(dims) == 4:
                self.layout4d.add(vi.name)
                self.shapes[vi.name] = (dims[0], dims[2], dims[3], dims[1])
                input_perm[vi.name] = (0, 2, 3, 1)
            else:
                self.shapes[vi.name] = tuple(dims)
            inputs.append(vi.name)

        for n in onnx_nodes:
            handler = getattr(self, "op_" + n.op_type, None)
            if handler is None:
                raise UnsupportedOpError(f"ONNX op {n.op_type} (node {n.name or n.output[0]}) is not supported")
            handler(n, _attrs(n))
            for o in n.output[:1]:
                ro = self.R(o)
                if ro in self.producer and ro not in self.shapes:
                    self._infer(inputs)

        outputs = [self.R(o.name) for o in g.output]
        fixed = {}
        for name, qp in self.fixed_raw.items():     # exact names win over aliased ones
            if self.R(name) == name:
                fixed[name] = qp
        for name, qp in self.fixed_raw.items():
            fixed.setdefault(self.R(name), qp)
        graph = Graph(inputs=inputs, outputs=outputs, nodes=self.nodes, fixed_qparams=fixed,
                      input_perm=input_perm, output_nhwc=[o for o in outputs if o in self.layout4d])
        graph.infer_shapes({i: self.shapes[i] for i in inputs})
        return graph

    def _infer(self, inputs):
        g = Graph(inputs=inputs, outputs=[], nodes=self.nodes)
        env = g.run({i: np.zeros(self.shapes[i]) for i in inputs})
        self.shapes.update({k: tuple(v.shape) for k, v in env.items()})

    def _shape(self, name):
        name = self.R(name)
        if name not in self.shapes:
            raise ModelError(f"tensor {name!r} has unknown shape")
        return self.shapes[name]

    def _fuse_target(self, x):
        x = self.R(x)
        p = self.producer.get(x)
        if p is not None and p.op in _FUSABLE and p.attrs.get("act", "NONE") == "NONE" \
                and "clip" not in p.attrs and self.consumers.get(x, 0) == 1:
            return p
        return None

    def _act(self, n, lo, hi):
        """Relu/Clip: fuse into the producer when possible, else a standalone CLAMP."""
        if (lo, hi) == (0.0, np.inf):
            act, clip = "RELU", None
        elif (lo, hi) == (0.0, 6.0):
            act, clip = "RELU6", None
        elif (lo, hi) == (-1.0, 1.0):
            act, clip = "RELU_N1_TO_1", None
        elif lo == 0.0:
            act, clip = "RELU", (lo, hi)
        else:
            act, clip = "NONE", (lo, hi)
        x, y = n.input[0], n.output[0]
        p = self._fuse_target(x)
        if p is not None:
            p.attrs["act"] = act
            if clip is not None:
                p.attrs["clip"] = clip
            old = p.outputs[0]
            p.outputs = [y]
            self.producer[y] = p
            del self.producer[old]
            self.alias[old] = y
            if old in self.layout4d:
                self.layout4d.add(y)
            if old in self.flatten_perm:
                self.flatten_perm[y] = self.flatten_perm[old]
            self.shapes[y] = self.shapes.get(old)
            return
        self.add("CLAMP", [x], y, {"act": act, "clip": clip})
        self._same_layout(x, y)

    def _same_layout(self, x, y):
        x = self.R(x)
        if x in self.layout4d:
            self.layout4d.add(y)
        if x in self.flatten_perm:
            self.flatten_perm[y] = self.flatten_perm[x]

    # ---- ops -------------------------------------------------------------------------------
    def op_Identity(self, n, a):
        self.alias[n.output[0]] = self.R(n.input[0])

    op_Dropout = op_Identity

    def op_Relu(self, n, a):
        self._act(n, 0.0, np.inf)

    def op_Clip(self, n, a):
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(n.input) > 1 and n.input[1]:
            lo = float(self.const(n.input[1]).value)
        if len(n.input) > 2 and n.input[2]:
            hi = float(self.const(n.input[2]).value)
        self._act(n, float(lo), float(hi))

    def _spatial(self, n, a, kh, kw):
        strides = tuple(a.get("strides", (1, 1)))
        dil = tuple(a.get("dilations", (1, 1)))
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto == "VALID":
            padding = "VALID"
        elif auto == "SAME_UPPER":
            padding = "SAME"
        elif auto == "NOTSET":
            p = tuple(a.get("pads", (0, 0, 0, 0)))
            padding = (p[0], p[2], p[1], p[3])
        else:
            raise UnsupportedOpError(f"{n.op_type} {n.name}: auto_pad {auto} is not supported")
        return {"stride": strides, "dilation": dil, "padding": padding}

    def op_Conv(self, n, a):
        x = n.input[0]
        if self.R(x) not in self.layout4d:
            raise UnsupportedOpError(f"Conv {n.name}: only 2-D convolutions on 4-D inputs are supported")
        wc = self.const(n.input[1])
        if wc is None:
            raise UnsupportedOpError(f"Conv {n.name}: weights must be constant")
        w = wc.value.astype(np.float64)
        if w.ndim != 4:
            raise UnsupportedOpError(f"Conv {n.name}: only 2-D convolutions are supported")
        o, i_per_group, kh, kw = w.shape
        group = int(a.get("group", 1))
        cin = self._shape(x)[3]
        attrs = self._spatial(n, a, kh, kw)
        bc = self.const(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        attrs["bias"] = bc.value.astype(np.float64) if bc is not None else np.zeros(o)
        if group == 1:
            op, perm, qaxis = "CONV_2D", (0, 2, 3, 1), 0
        elif group == cin and i_per_group == 1 and o % cin == 0:
            op, perm, qaxis = "DEPTHWISE_CONV_2D", (1, 2, 3, 0), 3
        else:
            raise UnsupportedOpError(f"Conv {n.name}: grouped convolution (group={group}) is not supported")
        attrs["weights"] = w.transpose(perm)
        self._attach_q(attrs, wc, bc, perm, qaxis, n)
        self.add(op, [x], n.output[0], attrs, name=n.name or n.output[0])
        self.layout4d.add(n.output[0])

    def _attach_q(self, attrs, wc, bc, perm, qaxis, n):
        if wc.q is None:
            return
        if np.any(np.asarray(wc.zp) != 0):
            return          # asymmetric weights: TFLite needs zero point 0, requantize from float
        if wc.q.dtype != np.int8:
            return
        if wc.axis is not None and perm is not None and perm.index(wc.axis) != qaxis:
            raise UnsupportedOpError(f"{n.op_type} {n.name}: weights quantized along axis {wc.axis}, "
                                     "not the output channels")
        attrs["weights_q"] = wc.q.transpose(perm) if perm is not None else wc.q
        attrs["weights_scale"] = np.asarray(wc.scale, np.float32).ravel()
        if bc is not None and bc.q is not None and bc.q.dtype == np.int32 and not np.any(np.asarray(bc.zp) != 0):
            attrs["bias_q"] = bc.q.astype(np.int32).ravel()

    def _fc(self, n, x, w_kn, bias, wc, bc, w_is_nk=False):
        """FULLY_CONNECTED from a [K, N] (or [N, K]) weight; handles CHW->HWC flatten order."""
        w = w_kn.astype(np.float64)
        w_nk = w if w_is_nk else w.T
        perm_cols = self.flatten_perm.get(self.R(x))
        attrs = {"weights": w_nk, "bias": bias if bias is not None else np.zeros(w_nk.shape[0])}
        if wc is not None and wc.q is not None:
            q_nk = wc.q if w_is_nk else wc.q.T
            axis = None if wc.axis is None else (wc.axis if w_is_nk else 1 - wc.axis)
            proxy = _Const(None, q=q_nk, scale=wc.scale, zp=wc.zp, axis=axis)
            self._attach_q(attrs, proxy, bc, None, 0, n)
            if axis not in (None, 0):
                raise UnsupportedOpError(f"{n.op_type} {n.name}: weights quantized along the input axis")
        if perm_cols is not None:
            attrs["weights"] = attrs["weights"][:, perm_cols]
            if "weights_q" in attrs:
                attrs["weights_q"] = attrs["weights_q"][:, perm_cols]
        if len(self._shape(x)) != 2:
            raise UnsupportedOpError(f"{n.op_type} {n.name}: input must be 2-D (flatten first)")
        return self.add("FULLY_CONNECTED", [x], n.output[0], attrs, name=n.name or n.output[0])

    def op_Gemm(self, n, a):
        if a.get("transA", 0):
            raise UnsupportedOpError(f"Gemm {n.name}: transA is not supported")
        wc = self.const(n.input[1])
        if wc is None:
            raise UnsupportedOpError(f"Gemm {n.name}: B must be constant")
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        bc = self.const(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        bias = None
        if bc is not None:
            bias = np.broadcast_to(bc.value.astype(np.float64).ravel(), (wc.value.shape[0 if a.get("transB", 0) else 1],)) * beta
        if alpha != 1.0:
            wc = _Const(wc.value * alpha)
            bc = None if bc is None else _Const(bias)
        if beta != 1.0 and bc is not None:
            bc = _Const(bias)
        self._fc(n, n.input[0], wc.value, bias, wc, bc, w_is_nk=bool(a.get("transB", 0)))

    def op_MatMul(self, n, a):
        wc = self.const(n.input[1])
        if wc is None or wc.value.ndim != 2:
            raise UnsupportedOpError(f"MatMul {n.name}: only activation x constant 2-D matrix is supported")
        self._fc(n, n.input[0], wc.value, None, wc, None)

    def _binary(self, n, op):
        a_, b_ = n.input
        ca, cb = self.const(a_), self.const(b_)
        if ca is None and cb is None:
            sa, sb = self._shape(a_), self._shape(b_)
            if len(sa) != len(sb) and (self.R(a_) in self.layout4d or self.R(b_) in self.layout4d):
                raise UnsupportedOpError(f"{n.op_type} {n.name}: broadcasting across ranks of 4-D tensors")
            self.add(op, [a_, b_], n.output[0], {}, name=n.name or n.output[0])
            self._same_layout(a_, n.output[0])
            return
        x, c = (a_, cb) if cb is not None else (b_, ca)
        p = self._fuse_target(x)
        vec = c.value.astype(np.float64)
        if p is not None and p.op in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"):
            nout = p.attrs["weights"].shape[3 if p.op == "DEPTHWISE_CONV_2D" else 0]
            v = vec.reshape(-1) if vec.size in (1, nout) and (vec.ndim <= 1 or p.op == "FULLY_CONNECTED"
                                                               or vec.shape in ((1, nout, 1, 1), (nout, 1, 1))) else None
            if v is not None:
                v = np.broadcast_to(v, (nout,))
                if "weights_q" in p.attrs and op == "MUL":
                    p.attrs.pop("weights_q")
                    p.attrs.pop("bias_q", None)
                if op == "ADD":
                    p.attrs["bias"] = p.attrs["bias"] + v
                    p.attrs.pop("bias_q", None)
                else:
                    shape = [-1, 1, 1, 1] if p.op == "CONV_2D" else ([1, 1, 1, -1] if p.op != "FULLY_CONNECTED" else [-1, 1])
                    p.attrs["weights"] = p.attrs["weights"] * v.reshape(shape)
                    p.attrs["bias"] = p.attrs["bias"] * v
                old = p.outputs[0]
                y = n.output[0]
                p.outputs = [y]
                self.producer[y] = p
                del self.producer[old]
                self.alias[old] = y
                self._same_layout(old, y)
                self.shapes[y] = self.shapes.get(old)
                return
        raise UnsupportedOpError(f"{n.op_type} {n.name}: a constant operand is only supported as a per-channel "
                                 "bias/scale folded into the preceding Conv/Gemm/MatMul")

    def op_Add(self, n, a):
        self._binary(n, "ADD")

    def op_Mul(self, n, a):
        self._binary(n, "MUL")

    def _pool(self, n, a, op):
        if a.get("ceil_mode", 0):
            raise UnsupportedOpError(f"{n.op_type} {n.name}: ceil_mode=1 is not supported")
        kh, kw = a["kernel_shape"]
        attrs = self._spatial(n, a, kh, kw)
        if tuple(attrs.pop("dilation")) != (1, 1):
            raise UnsupportedOpError(f"{n.op_type} {n.name}: dilated pooling is not supported")
        if op == "AVERAGE_POOL_2D" and a.get("count_include_pad", 0) and attrs["padding"] not in ("VALID", (0, 0, 0, 0)):
            raise UnsupportedOpError(f"AveragePool {n.name}: count_include_pad=1 with padding is not supported")
        attrs["filter"] = (kh, kw)
        self.add(op, [n.input[0]], n.output[0], attrs, name=n.name or n.output[0])
        self.layout4d.add(n.output[0])

    def op_MaxPool(self, n, a):
        if len(n.output) > 1 and n.output[1]:
            raise UnsupportedOpError(f"MaxPool {n.name}: the indices output is not supported")
        self._pool(n, a, "MAX_POOL_2D")

    def op_AveragePool(self, n, a):
        self._pool(n, a, "AVERAGE_POOL_2D")

    def op_GlobalAveragePool(self, n, a):
        self.add("MEAN", [n.input[0]], n.output[0], {"axes": (1, 2), "keep_dims": True}, name=n.name or n.output[0])
        self.layout4d.add(n.output[0])

    def _flatten_to(self, n, x, out_shape_onnx):
        x_ir = self.R(x)
        shp = self._shape(x)
        if x_ir in self.layout4d:
            _, h, w, c = shp
            if len(out_shape_onnx) != 2 or out_shape_onnx[1] != h * w * c:
                raise UnsupportedOpError(f"{n.op_type} {n.name}: only flattening a 4-D tensor to 2-D is supported")
            y = n.output[0]
            self.add("RESHAPE", [x], y, {"shape": (1, h * w * c)}, name=n.name or y)
            if h * w > 1:
                # HWC slot j holds ONNX CHW element perm[j]
                chw = np.arange(c * h * w).reshape(c, h, w)
                self.flatten_perm[y] = chw.transpose(1, 2, 0).reshape(-1)
            return
        self.add("RESHAPE", [x], n.output[0], {"shape": tuple(out_shape_onnx)}, name=n.name or n.output[0])
        self._same_layout(x, n.output[0])

    def op_Flatten(self, n, a):
        if a.get("axis", 1) != 1:
            raise UnsupportedOpError(f"Flatten {n.name}: only axis=1 is supported")
        shp = self._shape(n.input[0])
        self._flatten_to(n, n.input[0], (1, int(np.prod(shp[1:]))))

    def op_Reshape(self, n, a):
        sc = self.const(n.input[1])
        if sc is None:
            raise UnsupportedOpError(f"Reshape {n.name}: shape must be constant")
        shp = self._shape(n.input[0])
        total = int(np.prod(shp))
        target = [int(v) for v in sc.value.ravel()]
        onnx_in = shp if self.R(n.input[0]) not in self.layout4d else (shp[0], shp[3], shp[1], shp[2])
        target = [onnx_in[i] if v == 0 else v for i, v in enumerate(target)]
        target[0] = 1 if target[0] != -1 else target[0]
        if -1 in target:
            k = target.index(-1)
            rest = int(np.prod([v for i, v in enumerate(target) if i != k]))
            target[k] = total // rest
        if int(np.prod(target)) != total:
            raise ModelError(f"Reshape {n.name}: cannot reshape {onnx_in} to {target}")
        self._flatten_to(n, n.input[0], tuple(target))

    def op_Softmax(self, n, a):
        rank = len(self._shape(n.input[0]))
        axis = a.get("axis", -1)
        if axis % rank != rank - 1 or self.R(n.input[0]) in self.layout4d:
            raise UnsupportedOpError(f"Softmax {n.name}: only the last axis of a non-4-D tensor is supported")
        self.add("SOFTMAX", [n.input[0]], n.output[0], {"beta": 1.0}, name=n.name or n.output[0])

    def op_Sigmoid(self, n, a):
        self.add("LOGISTIC", [n.input[0]], n.output[0], name=n.name or n.output[0])
        self._same_layout(n.input[0], n.output[0])

    def op_Tanh(self, n, a):
        self.add("TANH", [n.input[0]], n.output[0], name=n.name or n.output[0])
        self._same_layout(n.input[0], n.output[0])

    def op_Concat(self, n, a):
        axis = a["axis"]
        first = self.R(n.input[0])
        rank = len(self._shape(first))
        axis %= rank
        if first in self.layout4d:
            axis = _NCHW_TO_NHWC_AXIS[axis]
        if any(self.R(i) in self.flatten_perm for i in n.input):
            raise UnsupportedOpError(f"Concat {n.name}: concatenating flattened 4-D tensors is not supported")
        for i in n.input:
            if self.const(i) is not None:
                raise UnsupportedOpError(f"Concat {n.name}: constant inputs are not supported")
        self.add("CONCATENATION", list(n.input), n.output[0], {"axis": axis}, name=n.name or n.output[0])
        self._same_layout(first, n.output[0])

    def op_Pad(self, n, a):
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise UnsupportedOpError(f"Pad {n.name}: mode {mode} is not supported")
        pads = a.get("pads")
        if pads is None:
            pads = self.const(n.input[1]).value
        value = a.get("value", 0.0)
        if len(n.input) > 2 and n.input[2]:
            value = float(self.const(n.input[2]).value)
        if value != 0.0:
            raise UnsupportedOpError(f"Pad {n.name}: only zero padding is supported")
        pads = [int(p) for p in np.asarray(pads).ravel()]
        rank = len(pads) // 2
        pairs = [(pads[i], pads[i + rank]) for i in range(rank)]
        if self.R(n.input[0]) in self.layout4d:
            pairs = [pairs[0], pairs[2], pairs[3], pairs[1]]
        if any(p < 0 for pr in pairs for p in pr):
            raise UnsupportedOpError(f"Pad {n.name}: negative pads are not supported")
        self.add("PAD", [n.input[0]], n.output[0], {"paddings": pairs}, name=n.name or n.output[0])
        self._same_layout(n.input[0], n.output[0])


def from_onnx(model) -> Graph:
    return _Importer(model).run()
