"""Hand-crafted (possibly hostile) TFLite flatbuffers for reader error-path tests.

runtime/tflite/writer.py refuses to write invalid models, which is right for a
writer; these tests need exactly the invalid ones: negative or huge shapes,
bad quantization, out-of-range indices, external buffers (Buffer.offset/size)
pointing anywhere. Every field is written as given, unchecked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import flatbuffers
import numpy as np

TYPES = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int16": 7, "int8": 9, "float16": 1, "string": 5}


@dataclass
class T:
    shape: Optional[list]
    dtype: str = "int8"
    buffer: int = 0
    scale: Optional[list] = None
    zero_point: Optional[list] = None
    quantized_dimension: int = 0
    shape_signature: Optional[list] = None
    name: str = "t"
    type_code: Optional[int] = None


@dataclass
class B:
    data: Optional[bytes] = None
    offset: Optional[int] = None   # external: absolute file offset; "tail" = appended data
    size: Optional[int] = None


@dataclass
class Op:
    opcode_index: int
    inputs: list
    outputs: list
    options_type: int = 0          # BuiltinOptions union type; its table is written empty (all defaults)


@dataclass
class Spec:
    tensors: list
    inputs: list
    outputs: list
    buffers: list = field(default_factory=lambda: [B()])
    operators: list = field(default_factory=list)
    opcodes: list = field(default_factory=list)   # builtin codes (int) or custom names (str)
    version: int = 3
    tail: bytes = b""                             # appended after the flatbuffer (external buffers)


def _ivec(b, values, dtype):
    return b.CreateNumpyVector(np.asarray(values, dtype=dtype))


def _offsets(b, offs):
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _build(s: Spec, tail_at: int) -> bytes:
    b = flatbuffers.Builder(1024)
    bufs = []
    for buf in s.buffers:
        data_off = None
        if buf.data is not None:
            b.StartVector(1, len(buf.data), 16)
            b.head = b.head - len(buf.data)
            b.Bytes[b.head:b.head + len(buf.data)] = buf.data
            data_off = b.EndVector()
        b.StartObject(3)
        if data_off is not None:
            b.PrependUOffsetTRelativeSlot(0, data_off, 0)
        if buf.offset is not None:
            b.PrependUint64Slot(1, tail_at if buf.offset == "tail" else buf.offset, 0)
        if buf.size is not None:
            b.PrependUint64Slot(2, buf.size, 0)
        bufs.append(b.EndObject())
    tens = []
    for i, t in enumerate(s.tensors):
        name = b.CreateString(t.name or f"t{i}")
        shape = _ivec(b, t.shape, np.int32) if t.shape is not None else None
        sig = _ivec(b, t.shape_signature, np.int32) if t.shape_signature is not None else None
        q = None
        if t.scale is not None or t.zero_point is not None:
            sc = _ivec(b, t.scale, np.float32) if t.scale is not None else None
            zp = _ivec(b, t.zero_point, np.int64) if t.zero_point is not None else None
            b.StartObject(7)
            if sc is not None:
                b.PrependUOffsetTRelativeSlot(2, sc, 0)
            if zp is not None:
                b.PrependUOffsetTRelativeSlot(3, zp, 0)
            b.PrependInt32Slot(6, t.quantized_dimension, 0)
            q = b.EndObject()
        b.StartObject(8)
        if shape is not None:
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, TYPES[t.dtype] if t.type_code is None else t.type_code, -1)
        b.PrependUint32Slot(2, t.buffer, 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if q is not None:
            b.PrependUOffsetTRelativeSlot(4, q, 0)
        if sig is not None:
            b.PrependUOffsetTRelativeSlot(7, sig, 0)
        tens.append(b.EndObject())
    ops = []
    for op in s.operators:
        ins = _ivec(b, op.inputs, np.int32)
        outs = _ivec(b, op.outputs, np.int32)
        opt = None
        if op.options_type:
            b.StartObject(0)
            opt = b.EndObject()
        b.StartObject(5)
        b.PrependUint32Slot(0, op.opcode_index, 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        if opt is not None:
            b.PrependUint8Slot(3, op.options_type, 0)
            b.PrependUOffsetTRelativeSlot(4, opt, 0)
        ops.append(b.EndObject())
    sg_t = _offsets(b, tens)
    sg_in = _ivec(b, s.inputs, np.int32)
    sg_out = _ivec(b, s.outputs, np.int32)
    sg_ops = _offsets(b, ops)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, sg_t, 0)
    b.PrependUOffsetTRelativeSlot(1, sg_in, 0)
    b.PrependUOffsetTRelativeSlot(2, sg_out, 0)
    b.PrependUOffsetTRelativeSlot(3, sg_ops, 0)
    sg = b.EndObject()
    codes = []
    for c in s.opcodes:
        custom = b.CreateString(c) if isinstance(c, str) else None
        b.StartObject(4)
        if custom is not None:
            b.PrependInt8Slot(0, 32, 0)
            b.PrependUOffsetTRelativeSlot(1, custom, 0)
        else:
            b.PrependInt8Slot(0, min(c, 127), 0)
            b.PrependInt32Slot(3, c, 0)
        b.PrependInt32Slot(2, 1, 0)
        codes.append(b.EndObject())
    codes_v = _offsets(b, codes)
    sgs = _offsets(b, [sg])
    bufs_v = _offsets(b, bufs)
    b.StartObject(5)
    b.PrependUint32Slot(0, s.version, 0)
    b.PrependUOffsetTRelativeSlot(1, codes_v, 0)
    b.PrependUOffsetTRelativeSlot(2, sgs, 0)
    b.PrependUOffsetTRelativeSlot(4, bufs_v, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=b"TFL3")
    return bytes(b.Output())


def craft(s: Spec) -> bytes:
    """Serialize; buffers with offset="tail" point at `s.tail`, appended 16-byte aligned."""
    first = _build(s, 1 << 40)
    tail_at = (len(first) + 15) // 16 * 16
    body = _build(s, tail_at)
    assert len(body) == len(first)
    return body + b"\0" * (tail_at - len(body)) + s.tail


def identity(shape=(1, 4), dtype="int8", scale=0.5, zero_point=3, **kw) -> Spec:
    """x -> (no ops) -> x : the smallest valid model."""
    q = {} if scale is None else {"scale": [scale], "zero_point": [zero_point]}
    return Spec(tensors=[T(list(shape), dtype, name="x", **q, **kw)], inputs=[0], outputs=[0])
