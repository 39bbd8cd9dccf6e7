"""Write TFLite flatbuffers without TensorFlow.

    mb = ModelBuilder()
    x = mb.add_tensor("x", (1, 8), "int8", scale=0.05, zero_point=-3)
    w = mb.add_tensor("w", (4, 8), "int8", data=w_q, scale=w_scales, zero_point=0, quantized_dimension=0)
    b = mb.add_tensor("b", (4,), "int32", data=b_q, scale=0.05 * w_scales, zero_point=0)
    y = mb.add_tensor("y", (1, 4), "int8", scale=0.1, zero_point=2)
    mb.add_operator("FULLY_CONNECTED", [x, w, b], [y], {"fused_activation_function": "RELU"})
    mb.set_io([x], [y])
    blob = mb.build()

One subgraph; buffer 0 is the empty sentinel; every constant tensor gets its own buffer whose
data is 16-byte aligned. Operator codes follow the schema rule: builtin_code holds the code and
deprecated_builtin_code holds min(code, 127). Only `flatbuffers` and `numpy` are needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import flatbuffers
import numpy as np

from ..errors import ModelError
from . import schema

OptionValue = Union[int, float, bool, str, Sequence[int]]


@dataclass
class _Tensor:
    name: str
    shape: tuple
    type_code: int
    buffer: int
    scale: Optional[np.ndarray]
    zero_point: Optional[np.ndarray]
    quantized_dimension: int


@dataclass
class _Operator:
    opcode_index: int
    inputs: list
    outputs: list
    options_type: int
    options: list = field(default_factory=list)  # [(slot, kind, value, default)]


def _dtype_name(dtype) -> str:
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    if name not in schema.TENSOR_TYPES:
        raise ModelError(f"unsupported tensor dtype {dtype!r}; known: {sorted(schema.TENSOR_TYPES)}")
    return name


class ModelBuilder:
    """Accumulates tensors and operators of one subgraph and serialises them with build()."""

    def __init__(self, description: str = "ember.writer"):
        self.description = description
        self._tensors: list[_Tensor] = []
        self._buffers: list[bytes] = [b""]
        self._opcodes: list[tuple[int, int]] = []
        self._operators: list[_Operator] = []
        self._inputs: list[int] = []
        self._outputs: list[int] = []

    # ---- tensors -------------------------------------------------------------------------
    def add_tensor(self, name: str, shape: Sequence[int], dtype, data=None, scale=None,
                   zero_point=None, quantized_dimension: int = 0) -> int:
        """Add a tensor; `data` makes it a constant. Returns its index.

        scale/zero_point: scalars (per-tensor) or 1-D sequences (per-channel along
        quantized_dimension). A zero_point without a scale is an error; a scale without a
        zero_point means zero_point 0.
        """
        dname = _dtype_name(dtype)
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ModelError(f"tensor {name!r}: negative dimension in shape {shape}")
        buffer = 0
        if data is not None:
            arr = np.asarray(data)
            if dname == "int4":
                raise ModelError(f"tensor {name!r}: constant int4 data is not supported by the writer")
            if arr.dtype != np.dtype(dname):
                if not np.can_cast(arr.dtype, dname, casting="same_kind") and arr.size:
                    raise ModelError(f"tensor {name!r}: data dtype {arr.dtype} does not match {dname}")
                arr = arr.astype(dname)
            if arr.size != int(np.prod(shape, dtype=np.int64)):
                raise ModelError(f"tensor {name!r}: data has {arr.size} elements, shape {shape} needs "
                                 f"{int(np.prod(shape, dtype=np.int64))}")
            self._buffers.append(np.ascontiguousarray(arr, dtype=np.dtype(dname).newbyteorder("<")).tobytes())
            buffer = len(self._buffers) - 1
        q_scale = q_zp = None
        if scale is not None or zero_point is not None:
            if scale is None:
                raise ModelError(f"tensor {name!r}: zero_point given without scale")
            q_scale = np.atleast_1d(np.asarray(scale, dtype=np.float32)).ravel()
            zp = 0 if zero_point is None else zero_point
            q_zp = np.atleast_1d(np.asarray(zp, dtype=np.int64)).ravel()
            if q_zp.size == 1 and q_scale.size > 1:
                q_zp = np.full(q_scale.size, q_zp[0], dtype=np.int64)
            if q_zp.size != q_scale.size:
                raise ModelError(f"tensor {name!r}: {q_scale.size} scales but {q_zp.size} zero points")
            if not np.all(np.isfinite(q_scale)) or np.any(q_scale < 0):
                raise ModelError(f"tensor {name!r}: scales must be finite and >= 0")
            if q_scale.size > 1:
                if not 0 <= quantized_dimension < len(shape):
                    raise ModelError(f"tensor {name!r}: quantized_dimension {quantized_dimension} "
                                     f"out of range for shape {shape}")
                if shape[quantized_dimension] != q_scale.size:
                    raise ModelError(f"tensor {name!r}: {q_scale.size} scales but dimension "
                                     f"{quantized_dimension} has {shape[quantized_dimension]} channels")
        self._tensors.append(_Tensor(name, shape, schema.TENSOR_TYPES[dname], buffer, q_scale, q_zp,
                                     int(quantized_dimension)))
        return len(self._tensors) - 1

    # ---- operators -----------------------------------------------------------------------
    def _opcode_index(self, code: int, version: int) -> int:
        key = (code, version)
        if key not in self._opcodes:
            self._opcodes.append(key)
        return self._opcodes.index(key)

    def add_operator(self, builtin_name: str, inputs: Sequence[int], outputs: Sequence[int],
                     options: Optional[dict] = None, version: int = 1) -> int:
        """Add a builtin operator. Optional inputs are passed as -1. Returns the operator index.

        options use schema.fbs field names, e.g. CONV_2D: padding ("SAME"/"VALID"), stride_w,
        stride_h, fused_activation_function ("NONE"/"RELU"/"RELU6"/...), dilation_w_factor, ...
        """
        if builtin_name not in schema.BUILTIN_OPERATORS:
            raise ModelError(f"unknown builtin operator {builtin_name!r}")
        code = schema.BUILTIN_OPERATORS[builtin_name]
        for idx in list(inputs) + list(outputs):
            if not (idx == -1 or 0 <= idx < len(self._tensors)):
                raise ModelError(f"{builtin_name}: tensor index {idx} does not exist")
        options = dict(options or {})
        options_type, fields = schema.BUILTIN_OPTIONS.get(builtin_name, (0, []))
        known = {f[0] for f in fields}
        unknown = set(options) - known
        if unknown:
            raise ModelError(f"{builtin_name}: unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
        encoded = []
        for name, slot, kind, default in fields:
            if name in options:
                encoded.append((slot, kind, _encode_option(builtin_name, name, kind, options[name]), default))
        op = _Operator(self._opcode_index(code, int(version)), [int(i) for i in inputs],
                       [int(o) for o in outputs], options_type, encoded)
        self._operators.append(op)
        return len(self._operators) - 1

    def set_io(self, inputs: Sequence[int], outputs: Sequence[int]) -> None:
        for idx in list(inputs) + list(outputs):
            if not 0 <= idx < len(self._tensors):
                raise ModelError(f"subgraph input/output {idx} is not a tensor index")
        self._inputs = [int(i) for i in inputs]
        self._outputs = [int(o) for o in outputs]

    # ---- serialisation -------------------------------------------------------------------
    def build(self) -> bytes:
        if not self._outputs:
            raise ModelError("set_io() was not called (the model has no outputs)")
        b = flatbuffers.Builder(1024 + sum(len(x) for x in self._buffers))

        buffers = []
        for data in self._buffers:
            data_off = _byte_vector(b, data) if data else None
            b.StartObject(3)
            if data_off is not None:
                b.PrependUOffsetTRelativeSlot(schema.BUFFER["data"], data_off, 0)
            buffers.append(b.EndObject())

        tensors = []
        for t in self._tensors:
            name_off = b.CreateString(t.name)
            shape_off = b.CreateNumpyVector(np.asarray(t.shape, dtype=np.int32))
            quant_off = None
            if t.scale is not None:
                scale_off = b.CreateNumpyVector(t.scale.astype(np.float32))
                zp_off = b.CreateNumpyVector(t.zero_point.astype(np.int64))
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(schema.QUANTIZATION["scale"], scale_off, 0)
                b.PrependUOffsetTRelativeSlot(schema.QUANTIZATION["zero_point"], zp_off, 0)
                b.PrependInt32Slot(schema.QUANTIZATION["quantized_dimension"], t.quantized_dimension, 0)
                quant_off = b.EndObject()
            b.StartObject(10)
            b.PrependUOffsetTRelativeSlot(schema.TENSOR["shape"], shape_off, 0)
            b.PrependInt8Slot(schema.TENSOR["type"], t.type_code, 0)
            b.PrependUint32Slot(schema.TENSOR["buffer"], t.buffer, 0)
            b.PrependUOffsetTRelativeSlot(schema.TENSOR["name"], name_off, 0)
            if quant_off is not None:
                b.PrependUOffsetTRelativeSlot(schema.TENSOR["quantization"], quant_off, 0)
            tensors.append(b.EndObject())

        operators = []
        for op in self._operators:
            in_off = b.CreateNumpyVector(np.asarray(op.inputs, dtype=np.int32))
            out_off = b.CreateNumpyVector(np.asarray(op.outputs, dtype=np.int32))
            opt_off = _options_table(b, op.options) if op.options_type else None
            b.StartObject(14)
            b.PrependUint32Slot(schema.OPERATOR["opcode_index"], op.opcode_index, 0)
            b.PrependUOffsetTRelativeSlot(schema.OPERATOR["inputs"], in_off, 0)
            b.PrependUOffsetTRelativeSlot(schema.OPERATOR["outputs"], out_off, 0)
            if opt_off is not None:
                b.PrependUint8Slot(schema.OPERATOR["builtin_options_type"], op.options_type, 0)
                b.PrependUOffsetTRelativeSlot(schema.OPERATOR["builtin_options"], opt_off, 0)
            operators.append(b.EndObject())

        sg_name = b.CreateString("main")
        sg_tensors = _offset_vector(b, tensors)
        sg_inputs = b.CreateNumpyVector(np.asarray(self._inputs, dtype=np.int32))
        sg_outputs = b.CreateNumpyVector(np.asarray(self._outputs, dtype=np.int32))
        sg_ops = _offset_vector(b, operators)
        b.StartObject(6)
        b.PrependUOffsetTRelativeSlot(schema.SUBGRAPH["tensors"], sg_tensors, 0)
        b.PrependUOffsetTRelativeSlot(schema.SUBGRAPH["inputs"], sg_inputs, 0)
        b.PrependUOffsetTRelativeSlot(schema.SUBGRAPH["outputs"], sg_outputs, 0)
        b.PrependUOffsetTRelativeSlot(schema.SUBGRAPH["operators"], sg_ops, 0)
        b.PrependUOffsetTRelativeSlot(schema.SUBGRAPH["name"], sg_name, 0)
        subgraph = b.EndObject()

        opcodes = []
        for code, version in self._opcodes:
            b.StartObject(4)
            b.PrependInt8Slot(schema.OPERATOR_CODE["deprecated_builtin_code"],
                              min(code, schema.PLACEHOLDER_FOR_GREATER_OP_CODES), 0)
            b.PrependInt32Slot(schema.OPERATOR_CODE["version"], version, 1)
            b.PrependInt32Slot(schema.OPERATOR_CODE["builtin_code"], code, 0)
            opcodes.append(b.EndObject())

        desc = b.CreateString(self.description)
        opcodes_vec = _offset_vector(b, opcodes)
        subgraphs_vec = _offset_vector(b, [subgraph])
        buffers_vec = _offset_vector(b, buffers)
        b.StartObject(8)
        b.PrependUint32Slot(schema.MODEL["version"], schema.SCHEMA_VERSION, 0)
        b.PrependUOffsetTRelativeSlot(schema.MODEL["operator_codes"], opcodes_vec, 0)
        b.PrependUOffsetTRelativeSlot(schema.MODEL["subgraphs"], subgraphs_vec, 0)
        b.PrependUOffsetTRelativeSlot(schema.MODEL["description"], desc, 0)
        b.PrependUOffsetTRelativeSlot(schema.MODEL["buffers"], buffers_vec, 0)
        model = b.EndObject()
        b.Finish(model, file_identifier=schema.FILE_IDENTIFIER)
        return bytes(b.Output())


def _encode_option(op: str, name: str, kind: str, value: OptionValue):
    try:
        if kind == "act":
            if isinstance(value, str):
                return schema.ACTIVATIONS[value.upper()]
            return int(value)
        if kind == "pad":
            if isinstance(value, str):
                return schema.PADDINGS[value.upper()]
            return int(value)
        if kind in ("i8", "i32"):
            return int(value)
        if kind == "bool":
            return bool(value)
        if kind == "f32":
            return float(value)
        if kind == "i32vec":
            return [int(v) for v in value]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{op}: bad value {value!r} for option {name}") from exc
    raise AssertionError(kind)


def _options_table(b: flatbuffers.Builder, options: list) -> int:
    vec_offsets = {}
    for slot, kind, value, _ in options:
        if kind == "i32vec":
            vec_offsets[slot] = b.CreateNumpyVector(np.asarray(value, dtype=np.int32))
    nslots = 1 + max((slot for slot, *_ in options), default=-1)
    b.StartObject(nslots)
    for slot, kind, value, default in options:
        if kind in ("i8", "act", "pad"):
            b.PrependInt8Slot(slot, value, default)
        elif kind == "i32":
            b.PrependInt32Slot(slot, value, default)
        elif kind == "bool":
            b.PrependBoolSlot(slot, value, bool(default))
        elif kind == "f32":
            b.PrependFloat32Slot(slot, value, default)
        elif kind == "i32vec":
            b.PrependUOffsetTRelativeSlot(slot, vec_offsets[slot], 0)
    return b.EndObject()


def _offset_vector(b: flatbuffers.Builder, offsets: list) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _byte_vector(b: flatbuffers.Builder, data: bytes) -> int:
    """A [ubyte] vector whose first byte is 16-byte aligned (TFLite reads constants in place)."""
    b.StartVector(1, len(data), 16)
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    b.vectorNumElems = len(data)
    return b.EndVector()
