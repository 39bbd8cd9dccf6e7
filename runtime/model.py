"""The user-facing model: ``runtime.load(...)`` returns a ``Model``.

    m = runtime.load("kws.tflite", num_threads=1)
    y = m.infer(x)                  # int8 in, int8 out (dict name -> array for several outputs)
    p = m.infer_float(features)     # quantize inputs / dequantize outputs for you
    m.inputs[0].shape, m.arena_bytes, m.layers

Everything about the file is validated at load time (runtime/tflite/reader.py,
the op builders, the C plan's prepare); everything about the inputs on each
call. Errors: ModelError / UnsupportedOpError at load, InputError for bad
inputs, RuntimeFailure if the C executor fails.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from . import quant
from .errors import InputError, ModelError, RuntimeFailure
from .graph import Graph
from .ops import load_all
from .tflite.reader import TFLiteModel, read_model

MAX_THREADS = 256
# Default bound on what loading a model may allocate (arena + per-op persistent buffers):
# a hostile file declaring huge activations gets a ModelError, not a huge allocation.
DEFAULT_MAX_ARENA_BYTES = 1 << 30


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output. scale/zero_point are 0.0/0 when not quantized."""

    name: str
    shape: tuple
    dtype: str
    scale: float
    zero_point: int
    index: int  # tensor index in the TFLite subgraph

    @property
    def quantized(self) -> bool:
        return self.scale > 0 and self.dtype in ("int8", "uint8", "int16")


@dataclass(frozen=True)
class Layer:
    """One TFLite operator, as shown by `ember inspect`."""

    index: int
    op: str
    input_shapes: list
    output_shapes: list
    macs: int
    param_bytes: int
    kernels: list  # executor kernels it became


def _specs(tensors) -> list:
    """TensorSpecs with unique names (a repeated tensor name gets ':<tensor index>')."""
    names = [t.name for t in tensors]
    out = []
    for t in tensors:
        per_tensor = t.scale.size == 1
        name = t.name if names.count(t.name) == 1 else f"{t.name}:{t.id}"
        out.append(TensorSpec(name, tuple(t.shape), t.dtype, float(t.scale[0]) if per_tensor else 0.0,
                              int(t.zero_point[0]) if per_tensor else 0, t.id))
    return out


def _macs(op, tensors) -> int:
    """Multiply-accumulates of one operator (0 for data movement)."""
    outs = [tensors[i] for i in op.outputs]
    ins = [tensors[i] if i >= 0 else None for i in op.inputs]
    out_elems = sum(t.size for t in outs)
    if op.name in ("CONV_2D",) and len(ins) > 1 and ins[1] is not None and len(ins[1].shape) == 4:
        _, kh, kw, ic = ins[1].shape
        return out_elems * kh * kw * ic
    if op.name == "DEPTHWISE_CONV_2D" and len(ins) > 1 and ins[1] is not None and len(ins[1].shape) == 4:
        return out_elems * ins[1].shape[1] * ins[1].shape[2]
    if op.name == "FULLY_CONNECTED" and len(ins) > 1 and ins[1] is not None and ins[1].shape:
        return out_elems * ins[1].shape[-1]
    if op.name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return out_elems * int(op.options.get("filter_height", 1)) * int(op.options.get("filter_width", 1))
    if op.name in ("ADD", "MUL", "SUB", "SOFTMAX", "LOGISTIC", "TANH", "MEAN"):
        return max(out_elems, sum(t.size for t in ins if t is not None and not t.is_const))
    return 0


def _current_isa() -> str:
    from . import _core

    info = getattr(_core, "isa", None)
    if callable(info):
        return str(info())
    if isinstance(info, str):
        return info
    return "scalar"


def _read_source(source: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> tuple:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, "rb") as f:
                return f.read(), path
        except OSError as e:
            raise ModelError(f"cannot read model file {path!r}: {e.strerror or e}") from None
    raise ModelError(f"expected a path or bytes, got {type(source).__name__}")


class Model:
    """A loaded, planned model. Thread-safe: concurrent infer() calls are serialized per model."""

    def __init__(self, source: Union[str, os.PathLike, bytes], num_threads: int = 1,
                 max_arena_bytes: Optional[int] = DEFAULT_MAX_ARENA_BYTES):
        if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) \
                or not 1 <= int(num_threads) <= MAX_THREADS:
            raise InputError(f"num_threads must be an integer in [1, {MAX_THREADS}], got {num_threads!r}")
        if max_arena_bytes is not None and (isinstance(max_arena_bytes, bool)
                                            or not isinstance(max_arena_bytes, (int, np.integer))
                                            or int(max_arena_bytes) <= 0):
            raise InputError(f"max_arena_bytes must be a positive integer or None (no limit), "
                             f"got {max_arena_bytes!r}")
        data, self.path = _read_source(source)
        self.num_threads = int(num_threads)
        self.tflite: TFLiteModel = read_model(data, supported_ops=load_all().keys())
        self._isa = _current_isa()  # the plan keeps the ISA it was finalized with
        graph = Graph(self.tflite)
        graph.build()
        try:
            self._plan = graph.to_plan(self.num_threads, int(max_arena_bytes or 0))
        except ModelError as e:
            if "memory limit" in str(e):
                raise ModelError(f"{e} (max_arena_bytes={max_arena_bytes}; pass a larger max_arena_bytes, "
                                 f"or None, to runtime.load() for a model you trust)") from None
            raise
        self._explain = graph.explain
        tensors = self.tflite.tensors
        self.inputs: list[TensorSpec] = _specs([tensors[i] for i in self.tflite.inputs])
        self.outputs: list[TensorSpec] = _specs([tensors[i] for i in self.tflite.outputs])
        self.layers: list[Layer] = [
            Layer(op.index, op.name,
                  [tensors[i].shape if i >= 0 else None for i in op.inputs],
                  [tensors[i].shape for i in op.outputs],
                  _macs(op, tensors),
                  sum(tensors[i].data.nbytes for i in op.inputs if i >= 0 and tensors[i].is_const),
                  [e.kernel for e in emitted])
            for op, emitted in zip(self.tflite.operators, graph.layer_ops)
        ]
        self.memory: dict = dict(self._plan.memory())
        # infer() fast path for the common single-array call: (dtype, shape, one output)
        self._fast = ((np.dtype(self.inputs[0].dtype), tuple(self.inputs[0].shape), len(self.outputs) == 1)
                      if len(self.inputs) == 1 else None)
        self.num_executor_ops = len(graph.ops)

    # ---- properties ----------------------------------------------------------------------
    @property
    def arena_bytes(self) -> int:
        return int(self.memory["arena_bytes"])

    @property
    def isa(self) -> str:
        """Instruction set the kernels of this model were planned for ("scalar", "avx2", ...)."""
        return self._isa

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}:{s.dtype}{list(s.shape)}" for s in self.inputs)
        outs = ", ".join(f"{s.name}:{s.dtype}{list(s.shape)}" for s in self.outputs)
        return f"<ember Model ({ins}) -> ({outs}), {len(self.layers)} layers, arena {self.arena_bytes} B>"

    # ---- inference -----------------------------------------------------------------------
    def _arrange(self, x: Any) -> list:
        """Inputs in model order from an array, a list/tuple, or a dict by input name."""
        n = len(self.inputs)
        if isinstance(x, dict):
            names = [s.name for s in self.inputs]
            unknown = sorted(set(map(str, x)) - set(names))
            missing = [nm for nm in names if nm not in x]
            if unknown or missing:
                raise InputError(f"input names do not match the model: missing {missing}, unknown {unknown}; "
                                 f"expected {names}")
            arrays = [x[nm] for nm in names]
        elif isinstance(x, (list, tuple)):
            arrays = list(x)
        else:
            arrays = [x]
        if len(arrays) != n:
            raise InputError(f"model has {n} input(s), got {len(arrays)}")
        for a, spec in zip(arrays, self.inputs):
            if not isinstance(a, np.ndarray):
                raise InputError(f"input '{spec.name}' must be a numpy array, got {type(a).__name__}")
        return arrays

    def _check(self, arrays: list) -> None:
        for a, spec in zip(arrays, self.inputs):
            if a.dtype != np.dtype(spec.dtype):
                raise InputError(f"input '{spec.name}' must have dtype {spec.dtype}, got {a.dtype}")
            if tuple(a.shape) != spec.shape:
                raise InputError(f"input '{spec.name}' must have shape {spec.shape}, got {tuple(a.shape)}")

    def _results(self, outs: list):
        if len(outs) == 1:
            return outs[0]
        return {spec.name: y for spec, y in zip(self.outputs, outs)}

    def infer(self, x: Any):
        """Run the model on integer inputs (dtype and shape exactly as in ``inputs``)."""
        fast = self._fast
        if fast is not None and type(x) is np.ndarray:
            # one array for a one-input model: Plan.run checks dtype and shape itself
            # (µs-scale calls); on a mismatch the slow path below words the error
            try:
                outs = self._plan.run((x,))
            except InputError:
                pass
            except RuntimeFailure as e:
                raise RuntimeFailure(self._explain(str(e))) from None
            else:
                return outs[0] if fast[2] else self._results(outs)
        arrays = self._arrange(x)
        self._check(arrays)
        return self._results(self._run(arrays))

    def _run(self, arrays: list) -> list:
        try:
            return self._plan.run(arrays)
        except RuntimeFailure as e:
            raise RuntimeFailure(self._explain(str(e))) from None

    def infer_float(self, x: Any):
        """Quantize float inputs with each input's scale/zero point, run, dequantize outputs."""
        arrays = self._arrange(x)
        q = []
        for a, spec in zip(arrays, self.inputs):
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
                raise InputError(f"input '{spec.name}' must be numeric, got {a.dtype}")
            if tuple(a.shape) != spec.shape:
                raise InputError(f"input '{spec.name}' must have shape {spec.shape}, got {tuple(a.shape)}")
            af = a.astype(np.float32)
            if not np.all(np.isfinite(af)):
                raise InputError(f"input '{spec.name}' contains NaN or infinite values")
            if spec.quantized:
                q.append(quant.quantize(af, spec.scale, spec.zero_point, spec.dtype))
            elif spec.dtype == "float32":
                q.append(np.ascontiguousarray(af))
            else:
                raise InputError(f"input '{spec.name}' ({spec.dtype}) has no quantization parameters; "
                                 f"use infer()")
        self._check(q)
        outs = self._run(q)
        deq = []
        for y, spec in zip(outs, self.outputs):
            if spec.quantized:
                deq.append(quant.dequantize(y, spec.scale, spec.zero_point))
            else:
                deq.append(y.astype(np.float32) if y.dtype != np.float32 else y)
        return self._results(deq)


# ---- module-level helpers (re-exported by runtime/__init__.py) -------------------------------

_CACHE_SIZE = 8
_cache: "OrderedDict[tuple, Model]" = OrderedDict()
_cache_lock = threading.Lock()


def load(source: Union[str, os.PathLike, bytes], num_threads: int = 1,
         max_arena_bytes: Optional[int] = DEFAULT_MAX_ARENA_BYTES) -> Model:
    """Load a .tflite model from a path or bytes.

    max_arena_bytes bounds the memory the plan may allocate (arena + persistent buffers;
    default 1 GiB, None = no limit); a model needing more raises ModelError.
    """
    return Model(source, num_threads=num_threads, max_arena_bytes=max_arena_bytes)


def infer(model: Union[Model, str, os.PathLike, bytes], x: Any, num_threads: int = 1):
    """One-shot inference. Paths are cached (key: path, mtime, size; up to 8 models)."""
    if isinstance(model, Model):
        return model.infer(x)
    if isinstance(model, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(model))
        try:
            st = os.stat(path)
        except OSError as e:
            raise ModelError(f"cannot read model file {path!r}: {e.strerror or e}") from None
        key = (path, st.st_mtime_ns, st.st_size, int(num_threads) if isinstance(num_threads, int) else num_threads)
        with _cache_lock:
            m: Optional[Model] = _cache.get(key)
            if m is not None:
                _cache.move_to_end(key)
        if m is None:
            m = Model(path, num_threads=num_threads)
            with _cache_lock:
                for k in [k for k in _cache if k[0] == path]:  # drop stale versions of this file
                    del _cache[k]
                _cache[key] = m
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
        return m.infer(x)
    return Model(model, num_threads=num_threads).infer(x)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
