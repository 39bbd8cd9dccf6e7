"""TFLite flatbuffer reader that trusts nothing.

``read_model(data)`` decodes a ``.tflite`` file with a bounds-checked
flatbuffer decoder (every table, vtable, vector and string is checked to lie
inside the file before it is read) and validates the whole model before any of
it reaches C: identifier and schema version, buffer ranges (inline ``data`` and
the ``offset``/``size`` form used by >2 GB files), tensor types, shapes and
shape signatures, quantization parameters, operator codes and tensor indices,
subgraph inputs and outputs. Anything wrong raises ``ModelError`` (operators
Ember has no builder for: ``UnsupportedOpError``) with a message naming the
tensor or operator. Builtin options become dicts with the schema's snake_case
field names; enum fields hold the enum's name (``padding: 'SAME'``,
``fused_activation_function: 'RELU6'``).

Constant tensor data are numpy views into ``data`` (no copy).

Only subgraph 0 is used: other subgraphs can only be reached through
control-flow operators, which Ember does not support.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import numpy as np

from ..errors import ModelError, UnsupportedOpError
from ..ops.base import Tensor

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
MAX_RANK = 6                       # EMBER_MAX_DIMS
MAX_TENSOR_BYTES = 2**31 - 1       # per tensor
MAX_OP_TENSORS = 1024              # inputs/outputs per operator
MAX_COUNT = 1 << 20                # tensors, operators, buffers, codes

# TensorType -> (name, itemsize) for the types Ember executes.
TENSOR_TYPES = {0: ("float32", 4), 2: ("int32", 4), 3: ("uint8", 1), 4: ("int64", 8), 7: ("int16", 2), 9: ("int8", 1)}
TENSOR_TYPE_SCHEMA_NAMES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL", 7: "INT16",
    8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64", 13: "RESOURCE", 14: "VARIANT",
    15: "UINT32", 16: "UINT16", 17: "INT4", 18: "BFLOAT16",
}
QUANTIZED_TYPES = {"int8", "uint8", "int16"}
ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
                    "int32": (-(2**31), 2**31 - 1), "int64": (-(2**31), 2**31 - 1)}


# --------------------------------------------------------------------------- flatbuffer decoding

class _Bytes:
    """Bounds-checked little-endian reads from the file."""

    def __init__(self, data: bytes):
        self.data = data
        self.n = len(data)

    def check(self, pos: int, size: int, what: str) -> None:
        if pos < 0 or size < 0 or pos + size > self.n:
            raise ModelError(f"{what}: bytes [{pos}, {pos + size}) lie outside the file ({self.n} bytes)")

    def read(self, fmt: struct.Struct, pos: int, what: str):
        self.check(pos, fmt.size, what)
        return fmt.unpack_from(self.data, pos)[0]


_U8, _I8, _U16, _I32, _U32 = (struct.Struct(f) for f in ("<B", "<b", "<H", "<i", "<I"))
_I64, _U64, _F32 = (struct.Struct(f) for f in ("<q", "<Q", "<f"))


class _Table:
    """One flatbuffer table, its vtable checked to lie inside the file."""

    def __init__(self, buf: _Bytes, pos: int, what: str):
        self.buf, self.pos, self.what = buf, pos, what
        vtable = pos - buf.read(_I32, pos, what)
        self.vt_len = buf.read(_U16, vtable, f"{what} vtable")
        obj_len = buf.read(_U16, vtable + 2, f"{what} vtable")
        if self.vt_len < 4 or self.vt_len % 2:
            raise ModelError(f"{what}: corrupt vtable (length {self.vt_len})")
        buf.check(vtable, self.vt_len, f"{what} vtable")
        buf.check(pos, obj_len, what)
        self.vtable = vtable

    def _offset(self, slot: int) -> int:
        voff = 4 + 2 * slot
        if voff >= self.vt_len:
            return 0
        return self.buf.read(_U16, self.vtable + voff, f"{self.what} vtable")

    def has(self, slot: int) -> bool:
        return self._offset(slot) != 0

    def scalar(self, slot: int, fmt: struct.Struct, default):
        off = self._offset(slot)
        return default if off == 0 else self.buf.read(fmt, self.pos + off, self.what)

    def _indirect(self, slot: int) -> Optional[int]:
        off = self._offset(slot)
        if off == 0:
            return None
        at = self.pos + off
        return at + self.buf.read(_U32, at, self.what)

    def table(self, slot: int, what: str) -> Optional["_Table"]:
        at = self._indirect(slot)
        return None if at is None else _Table(self.buf, at, what)

    def vector(self, slot: int, elem_size: int, what: str) -> Optional[tuple]:
        """(start, length) of a vector field, checked to fit in the file."""
        at = self._indirect(slot)
        if at is None:
            return None
        length = self.buf.read(_U32, at, what)
        self.buf.check(at + 4, length * elem_size, what)
        return at + 4, length

    def numbers(self, slot: int, dtype: str, what: str) -> Optional[np.ndarray]:
        dt = np.dtype(dtype).newbyteorder("<")
        vec = self.vector(slot, dt.itemsize, what)
        if vec is None:
            return None
        start, length = vec
        return np.frombuffer(self.buf.data, dt, length, start).astype(dt.newbyteorder("="))

    def tables(self, slot: int, what: str) -> Optional[list]:
        vec = self.vector(slot, 4, what)
        if vec is None:
            return None
        start, length = vec
        if length > MAX_COUNT:
            raise ModelError(f"{what}: {length} entries (limit {MAX_COUNT})")
        out = []
        for i in range(length):
            at = start + 4 * i
            out.append(_Table(self.buf, at + self.buf.read(_U32, at, what), f"{what}[{i}]"))
        return out

    def string(self, slot: int, what: str) -> Optional[str]:
        vec = self.vector(slot, 1, what)
        if vec is None:
            return None
        start, length = vec
        return bytes(self.buf.data[start:start + length]).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- model description

@dataclass
class Operator:
    index: int
    name: str                  # builtin name ("CONV_2D") or "CUSTOM:<code>"
    inputs: list               # tensor indices, -1 = absent optional input
    outputs: list
    options: dict
    version: int = 1


@dataclass
class TFLiteModel:
    version: int
    description: str
    tensors: list              # runtime.ops.base.Tensor, id == index in subgraph 0
    operators: list            # Operator
    inputs: list               # tensor indices
    outputs: list
    subgraph_name: str = ""
    num_subgraphs: int = 1
    data: bytes = b""
    extra: dict = field(default_factory=dict)  # per tensor index: shape_signature, buffer


# --------------------------------------------------------------------------- enums

_GENERATED_PACKAGE = "_ember_tflite_generated"


def _generated_module(name: str):
    """One generated module of the `tflite` pip package, without its __init__ (which imports ~200 modules).

    The package directory is mounted under a private package name, so only the accessor modules the
    reader actually uses are loaded (and an application's own `import tflite` is unaffected).
    """
    import importlib
    import sys

    if "tflite" in sys.modules:                      # already fully imported elsewhere: reuse it
        return importlib.import_module(f"tflite.{name}")
    if _GENERATED_PACKAGE not in sys.modules:
        import importlib.util
        import types

        spec = importlib.util.find_spec("tflite")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("the 'tflite' package is not installed")
        pkg = types.ModuleType(_GENERATED_PACKAGE)
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules[_GENERATED_PACKAGE] = pkg
    return importlib.import_module(f"{_GENERATED_PACKAGE}.{name}")


def _tflite_enum(module_name: str) -> dict:
    try:
        mod = _generated_module(module_name)
        cls = getattr(mod, module_name)
        return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}
    except Exception:  # pragma: no cover - the tflite package is a dependency
        return {}


def _builtin_operator_names() -> dict:
    names = _tflite_enum("BuiltinOperator")
    from . import schema

    for code, name in schema.BUILTIN_OPERATOR_NAMES.items():
        names.setdefault(code, name)
    return names


BUILTIN_OPERATOR_NAMES = _builtin_operator_names()
_OPTION_ENUMS = {
    "padding": "Padding",
    "fused_activation_function": "ActivationFunctionType",
    "weights_format": "FullyConnectedOptionsWeightsFormat",
    "mode": "MirrorPadMode",
    "combiner": "CombinerType",
    "kernel_type": "LSTMKernelType",
}
_ENUM_NAMES = {field_name: _tflite_enum(enum) for field_name, enum in _OPTION_ENUMS.items()}
_OPTIONS_CLASSES = _tflite_enum("BuiltinOptions")
_SKIP_SUFFIXES = ("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")
# A table with no fields set (vtable at 0, table at 4): every accessor returns its default.
_EMPTY_TABLE = struct.pack("<HHi", 4, 4, 4)


def _expected_options() -> dict:
    from . import schema

    return {op: union for op, (union, _) in schema.BUILTIN_OPTIONS.items()}


_EXPECTED_OPTIONS = _expected_options()


def _snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _decode_options(table: _Table, union_type: int, what: str) -> dict:
    """Builtin options table -> {snake_case_field: value} via the tflite package's accessors."""
    cls_name = _OPTIONS_CLASSES.get(union_type)
    if cls_name is None:
        raise ModelError(f"{what}: unknown builtin options type {union_type}")
    cls = getattr(_generated_module(cls_name), cls_name)
    obj = cls()
    obj.Init(table.buf.data, table.pos)
    out: dict[str, Any] = {}
    for attr, fn in vars(cls).items():
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs") or not callable(fn):
            continue
        if attr.endswith(_SKIP_SUFFIXES) or isinstance(fn, (classmethod, staticmethod)):
            continue
        key = _snake(attr)
        try:
            if fn.__code__.co_argcount == 2:          # vector accessor fn(self, j): use XAsNumpy
                if getattr(obj, attr + "IsNone")():
                    continue
                value = getattr(obj, attr + "AsNumpy")()
                value = [int(v) if np.issubdtype(np.asarray(value).dtype, np.integer) else v for v in value]
            elif fn.__code__.co_argcount == 1:
                value = fn(obj)
            else:
                continue
        except ModelError:
            raise
        except Exception as e:  # out-of-range reads of a corrupt table
            raise ModelError(f"{what}: corrupt option '{key}' ({type(e).__name__}: {e})") from None
        if isinstance(value, (np.integer,)):
            value = int(value)
        if isinstance(value, (np.floating, float)):
            value = float(value)
        if key in _ENUM_NAMES and _ENUM_NAMES[key]:
            if value not in _ENUM_NAMES[key]:
                raise ModelError(f"{what}: option {key} has invalid value {value}")
            value = _ENUM_NAMES[key][value]
        elif key == "quantized_bias_type":
            value = TENSOR_TYPE_SCHEMA_NAMES.get(value, str(value))
        if isinstance(value, float) and not np.isfinite(value):
            raise ModelError(f"{what}: option {key} is not finite ({value})")
        out[key] = value
    return out


# --------------------------------------------------------------------------- validation helpers

def _buffer_bytes(buf: _Bytes, buffers: list, index: int, what: str) -> Optional[memoryview]:
    """The bytes of buffer `index` (None when empty)."""
    if index == 0:
        return None
    if not 0 <= index < len(buffers):
        raise ModelError(f"{what}: buffer index {index} out of range ({len(buffers)} buffers)")
    t = buffers[index]
    where = f"buffer {index}"
    vec = t.vector(0, 1, where)
    offset = t.scalar(1, _U64, 0)
    size = t.scalar(2, _U64, 0)
    if offset > 1:
        if vec is not None and vec[1] > 0:
            raise ModelError(f"{where}: has both inline data and an external offset")
        if offset + size > buf.n:
            raise ModelError(f"{where}: offset {offset} + size {size} lie outside the file ({buf.n} bytes)")
        return memoryview(buf.data)[offset:offset + size] if size else None
    if vec is None or vec[1] == 0:
        return None
    start, length = vec
    return memoryview(buf.data)[start:start + length]


def _read_tensor(buf: _Bytes, t: _Table, index: int, buffers: list) -> tuple:
    what = f"tensor {index}"
    name = t.string(3, f"{what} name") or f"tensor_{index}"
    what = f"tensor {index} '{name}'"
    type_code = t.scalar(1, _I8, 0)
    if type_code not in TENSOR_TYPES:
        tname = TENSOR_TYPE_SCHEMA_NAMES.get(type_code, f"code {type_code}")
        raise ModelError(f"{what}: unsupported tensor type {tname}")
    dtype, itemsize = TENSOR_TYPES[type_code]
    shape_arr = t.numbers(0, "int32", f"{what} shape")
    shape = tuple(int(d) for d in shape_arr) if shape_arr is not None else ()
    if len(shape) > MAX_RANK:
        raise ModelError(f"{what}: rank {len(shape)} exceeds {MAX_RANK}")
    for d in shape:
        if d <= 0:
            raise ModelError(f"{what}: invalid dimension {d} in shape {list(shape)}")
    count = 1
    for d in shape:
        count *= d
    if count * itemsize > MAX_TENSOR_BYTES:
        raise ModelError(f"{what}: shape {list(shape)} is too large ({count * itemsize} bytes)")
    sig_arr = t.numbers(7, "int32", f"{what} shape_signature")
    signature = None
    if sig_arr is not None and len(sig_arr) > 0:
        signature = tuple(int(d) for d in sig_arr)
        if len(signature) != len(shape):
            raise ModelError(f"{what}: shape_signature {list(signature)} does not match shape {list(shape)}")
        for s, d in zip(signature, shape):
            if s != d and s != -1:
                raise ModelError(f"{what}: shape_signature {list(signature)} does not match shape {list(shape)}")
    if t.scalar(5, _U8, 0):
        raise ModelError(f"{what}: variable tensors are not supported")
    if t.has(6):
        raise ModelError(f"{what}: sparse tensors are not supported")

    scale = np.zeros(0, np.float64)
    zero_point = np.zeros(0, np.int64)
    qdim = 0
    q = t.table(4, f"{what} quantization")
    if q is not None:
        if q.scalar(4, _U8, 0) != 0:
            raise ModelError(f"{what}: custom quantization details are not supported")
        s = q.numbers(2, "float32", f"{what} scale")
        z = q.numbers(3, "int64", f"{what} zero_point")
        qdim = q.scalar(6, _I32, 0)
        if s is not None and len(s) > 0:
            scale = s.astype(np.float64)
            if z is None or len(z) != len(s):
                raise ModelError(f"{what}: {len(s)} scale(s) but {0 if z is None else len(z)} zero point(s)")
            zero_point = z.astype(np.int64)
        elif z is not None and len(z) > 0:
            raise ModelError(f"{what}: zero points without scales")
    if scale.size:
        if not np.all(np.isfinite(scale)) or not np.all(scale > 0):
            raise ModelError(f"{what}: quantization scales must be finite and > 0, got {scale[:8].tolist()}")
        lo, hi = ZERO_POINT_RANGE.get(dtype, (-(2**31), 2**31 - 1))
        if zero_point.min() < lo or zero_point.max() > hi:
            raise ModelError(f"{what}: zero point {zero_point[(zero_point < lo) | (zero_point > hi)][0]} "
                             f"out of range [{lo}, {hi}] for {dtype}")
        if scale.size > 1:
            if not 0 <= qdim < len(shape):
                raise ModelError(f"{what}: quantized_dimension {qdim} out of range for rank {len(shape)}")
            if scale.size != shape[qdim]:
                raise ModelError(f"{what}: {scale.size} per-channel scales but dimension {qdim} has {shape[qdim]}")
        else:
            qdim = 0
    elif dtype in QUANTIZED_TYPES:
        raise ModelError(f"{what}: {dtype} tensor has no quantization parameters")

    buffer_index = t.scalar(2, _U32, 0)
    raw = _buffer_bytes(buf, buffers, buffer_index, what)
    data = None
    if raw is not None:
        if len(raw) != count * itemsize:
            raise ModelError(f"{what}: buffer {buffer_index} holds {len(raw)} bytes, shape {list(shape)} "
                             f"of {dtype} needs {count * itemsize}")
        data = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<"), count).reshape(shape)
        if data.dtype != np.dtype(dtype):  # big-endian host
            data = data.astype(dtype)
    tensor = Tensor(id=index, name=name, shape=shape, dtype=dtype, scale=scale, zero_point=zero_point,
                    quantized_dimension=int(qdim), data=data)
    return tensor, {"shape_signature": signature, "buffer": buffer_index}


def _op_name(codes: list, index: int, what: str) -> tuple:
    if not 0 <= index < len(codes):
        raise ModelError(f"{what}: opcode index {index} out of range ({len(codes)} operator codes)")
    c = codes[index]
    deprecated = c.scalar(0, _I8, 0)
    builtin = c.scalar(3, _I32, 0)
    code = max(int(deprecated), int(builtin))
    version = c.scalar(2, _I32, 1)
    if code == 32:  # CUSTOM
        return "CUSTOM:" + (c.string(1, f"{what} custom code") or "?"), version
    name = BUILTIN_OPERATOR_NAMES.get(code)
    if name is None:
        raise UnsupportedOpError(f"{what}: unknown builtin operator code {code}")
    return name, version


def _indices(vec: Optional[np.ndarray], n_tensors: int, what: str, allow_absent: bool) -> list:
    if vec is None:
        return []
    if len(vec) > MAX_OP_TENSORS:
        raise ModelError(f"{what}: {len(vec)} tensors (limit {MAX_OP_TENSORS})")
    out = [int(v) for v in vec]
    for v in out:
        if v == -1 and allow_absent:
            continue
        if not 0 <= v < n_tensors:
            raise ModelError(f"{what}: tensor index {v} out of range ({n_tensors} tensors)")
    return out


# --------------------------------------------------------------------------- entry point

def read_model(data: bytes, supported_ops: Optional[Iterable[str]] = None) -> TFLiteModel:
    """Decode and validate a .tflite file. supported_ops: builtin names Ember can build
    (None: do not check)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ModelError(f"model must be bytes, got {type(data).__name__}")
    try:
        return _read(data, None if supported_ops is None else set(supported_ops))
    except (ModelError, UnsupportedOpError):
        raise
    except (struct.error, IndexError, ValueError, TypeError, OverflowError, RecursionError, UnicodeError) as e:
        raise ModelError(f"corrupt TFLite file ({type(e).__name__}: {e})") from None


def _read(data: bytes, supported: Optional[set]) -> TFLiteModel:
    buf = _Bytes(data)
    if buf.n < 16:
        raise ModelError(f"not a TFLite model: file is only {buf.n} bytes")
    if data[4:8] != FILE_IDENTIFIER:
        raise ModelError(f"not a TFLite model: file identifier is {data[4:8]!r}, expected {FILE_IDENTIFIER!r}")
    root = _Table(buf, buf.read(_U32, 0, "root offset"), "model")
    version = root.scalar(0, _U32, 0)
    if version != SCHEMA_VERSION:
        raise ModelError(f"unsupported TFLite schema version {version} (expected {SCHEMA_VERSION})")
    codes = root.tables(1, "operator_codes") or []
    subgraphs = root.tables(2, "subgraphs") or []
    description = root.string(3, "description") or ""
    buffers = root.tables(4, "buffers") or []
    if len(subgraphs) < 1:
        raise ModelError("model has no subgraph")
    sg = subgraphs[0]
    sg_name = sg.string(4, "subgraph 0 name") or ""

    tensor_tables = sg.tables(0, "subgraph 0 tensors") or []
    tensors, extra = [], {}
    for i, tt in enumerate(tensor_tables):
        tensor, info = _read_tensor(buf, tt, i, buffers)
        tensors.append(tensor)
        extra[i] = info
    n = len(tensors)

    inputs = _indices(sg.numbers(1, "int32", "subgraph inputs"), n, "subgraph inputs", False)
    outputs = _indices(sg.numbers(2, "int32", "subgraph outputs"), n, "subgraph outputs", False)
    if not outputs:
        raise ModelError("subgraph 0 has no outputs")
    if len(set(inputs)) != len(inputs):
        raise ModelError(f"subgraph inputs list a tensor twice: {inputs}")
    if len(set(outputs)) != len(outputs):
        raise ModelError(f"subgraph outputs list a tensor twice: {outputs}")
    for i in inputs:
        if tensors[i].is_const:
            raise ModelError(f"model input {tensors[i].describe()} has constant data")

    operators = []
    for k, ot in enumerate(sg.tables(3, "subgraph 0 operators") or []):
        what = f"operator {k}"
        name, op_version = _op_name(codes, ot.scalar(0, _U32, 0), what)
        if supported is not None and name not in supported:
            shown = name[7:] if name.startswith("CUSTOM:") else name
            kind = "custom op" if name.startswith("CUSTOM:") else "op"
            raise UnsupportedOpError(f"{what}: unsupported {kind} '{shown}'")
        what = f"operator {k} ({name})"
        op_in = _indices(ot.numbers(1, "int32", f"{what} inputs"), n, f"{what} inputs", True)
        op_out = _indices(ot.numbers(2, "int32", f"{what} outputs"), n, f"{what} outputs", False)
        if not op_out:
            raise ModelError(f"{what}: has no outputs")
        options: dict = {}
        opt_type = ot.scalar(3, _U8, 0)
        opt = ot.table(4, f"{what} options") if opt_type != 0 else None
        expected = _EXPECTED_OPTIONS.get(name)
        if expected is not None and opt_type != 0 and opt_type != expected:
            raise ModelError(f"{what}: builtin options are {_OPTIONS_CLASSES.get(opt_type, opt_type)}, "
                             f"expected {_OPTIONS_CLASSES.get(expected, expected)}")
        if opt is not None:
            options = _decode_options(opt, opt_type, what)
        elif expected is not None:  # absent options table: the schema defaults
            options = _decode_options(_Table(_Bytes(_EMPTY_TABLE), 4, what), expected, what)
        operators.append(Operator(k, name, op_in, op_out, options, int(op_version)))

    return TFLiteModel(version=int(version), description=description, tensors=tensors, operators=operators,
                       inputs=inputs, outputs=outputs, subgraph_name=sg_name, num_subgraphs=len(subgraphs),
                       data=data, extra=extra)
