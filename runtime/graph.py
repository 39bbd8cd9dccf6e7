"""From a validated TFLite model to an executor plan.

    model = read_model(data, supported_ops=BUILDERS)      # runtime/tflite/reader.py
    graph = Graph(model)
    graph.build()          # runs each operator's builder (runtime/ops/<op>.py)
    plan = graph.to_plan(num_threads)                      # runtime._core.Plan, finalized

Builders emit executor ops (kernel name, input/output Tensors, int32 params);
they may add constants (``op.const``) and intermediate activations
(``op.intermediate``) through this graph. Only tensors the emitted ops or the
model's inputs/outputs use are handed to the plan; constant data goes in as
the numpy views the reader made over the file bytes, which the plan borrows
(no copy, unless an array is misaligned for its dtype).
"""
from __future__ import annotations

import re
from typing import Optional

import numpy as np

from .errors import EmberError, ModelError, UnsupportedOpError
from .ops import load_all
from .ops.base import EmittedOp, OpContext, Tensor
from .tflite.reader import TFLiteModel

_EXECUTOR_OP = re.compile(r"\bop (\d+) \(")
_NUMPY_TO_DTYPE = {"int8", "uint8", "int16", "int32", "int64", "float32"}


class Graph:
    def __init__(self, model: TFLiteModel):
        self.model = model
        self.tensors: list[Tensor] = list(model.tensors)
        self.ops: list[EmittedOp] = []
        self.layer_ops: list[list[EmittedOp]] = []   # per TFLite operator
        self.plan_ids: dict[int, int] = {}

    # ---- the interface builders see (OpContext.graph) ------------------------------------
    def new_const(self, array: np.ndarray, name: str) -> Tensor:
        array = np.ascontiguousarray(array)
        dtype = array.dtype.name
        if dtype not in _NUMPY_TO_DTYPE:
            raise ModelError(f"constant '{name}': unsupported dtype {dtype}")
        if array.size == 0:
            raise ModelError(f"constant '{name}' is empty")
        t = Tensor(id=len(self.tensors), name=name, shape=tuple(int(d) for d in array.shape), dtype=dtype,
                   data=array)
        self.tensors.append(t)
        return t

    def new_tensor(self, shape: tuple, dtype: str, scale: float = 0.0, zero_point: int = 0,
                   name: str = "tmp") -> Tensor:
        if dtype not in _NUMPY_TO_DTYPE:
            raise ModelError(f"tensor '{name}': unsupported dtype {dtype}")
        q = scale is not None and float(scale) > 0
        t = Tensor(id=len(self.tensors), name=name, shape=tuple(int(d) for d in shape), dtype=dtype,
                   scale=np.array([float(scale)] if q else [], np.float64),
                   zero_point=np.array([int(zero_point)] if q else [], np.int64))
        self.tensors.append(t)
        return t

    # ---- building -------------------------------------------------------------------------
    def check_structure(self) -> None:
        """Dataflow checks in TFLite terms (the C plan repeats them on executor ops): every
        activation is written once, by one operator, before it is read."""
        t = self.model.tensors
        written: dict[int, str] = {i: "a model input" for i in self.model.inputs}
        for op in self.model.operators:
            where = f"operator {op.index} ({op.name})"
            for k, i in enumerate(op.inputs):
                if i >= 0 and not t[i].is_const and i not in written:
                    raise ModelError(f"{where}: input {k} reads {t[i].describe()} before any operator writes it "
                                     f"(operators out of order?)")
            for i in op.outputs:
                if t[i].is_const:
                    raise ModelError(f"{where}: output {t[i].describe()} is a constant")
                if i in op.inputs:
                    raise ModelError(f"{where}: {t[i].describe()} is both input and output")
                if i in written:
                    raise ModelError(f"{where}: output {t[i].describe()} is already {written[i]}")
                written[i] = f"written by operator {op.index}"
        for i in self.model.outputs:
            if not t[i].is_const and i not in written:
                raise ModelError(f"model output {t[i].describe()} is never written")

    def build(self) -> None:
        self.check_structure()
        builders = load_all()
        for op in self.model.operators:
            builder = builders.get(op.name)
            if builder is None:
                raise UnsupportedOpError(f"operator {op.index}: unsupported op '{op.name}'")
            ins: list[Optional[Tensor]] = [None if i < 0 else self.tensors[i] for i in op.inputs]
            outs = [self.tensors[i] for i in op.outputs]
            ctx = OpContext(self, op.index, op.name, ins, outs, dict(op.options))
            try:
                builder(ctx)
            except EmberError:
                raise
            except Exception as e:  # a builder bug must still surface as a clear model error
                raise ModelError(f"operator {op.index} ({op.name}): builder failed: {type(e).__name__}: {e}") from e
            if not ctx.emitted:
                raise ModelError(f"operator {op.index} ({op.name}): builder emitted no executor op")
            self.layer_ops.append(ctx.emitted)
            self.ops.extend(ctx.emitted)

    def to_plan(self, num_threads: int = 1, max_memory_bytes: int = 0):
        """A finalized runtime._core.Plan. max_memory_bytes > 0 bounds what finalize may allocate
        (arena + per-op persistent buffers); a model needing more raises ModelError."""
        from . import _core

        plan = _core.Plan()
        if max_memory_bytes:
            plan.set_memory_limit(int(max_memory_bytes))
        ids: dict[int, int] = {}
        self.plan_ids = ids  # graph tensor id -> plan tensor id

        def plan_id(t: Optional[Tensor]) -> int:
            if t is None:
                return -1
            if not isinstance(t, Tensor):
                raise ModelError(f"executor op got {type(t).__name__} instead of a Tensor")
            if t.id not in ids:
                per_tensor = t.scale.size == 1
                scale = float(t.scale[0]) if per_tensor else 0.0
                zp = int(t.zero_point[0]) if per_tensor and t.zero_point.size == 1 else 0
                ids[t.id] = plan.add_tensor(list(t.shape), t.dtype, scale, zp, t.data)
            return ids[t.id]

        io_in = [plan_id(self.tensors[i]) for i in self.model.inputs]
        for e in self.ops:
            for k, v in e.params.items():
                if not isinstance(v, (int, np.integer, np.bool_)):
                    raise ModelError(f"operator {e.source_index} ({e.source_name}): parameter {k} of "
                                     f"{e.kernel} is {v!r}, not an integer")
            try:
                plan.add_op(e.kernel, [plan_id(t) for t in e.inputs], [plan_id(t) for t in e.outputs],
                            {k: int(v) for k, v in e.params.items()})
            except ModelError as err:
                raise ModelError(f"operator {e.source_index} ({e.source_name}): {err}") from None
        io_out = [plan_id(self.tensors[i]) for i in self.model.outputs]
        plan.set_io(io_in, io_out)
        try:
            plan.finalize(num_threads)
        except ModelError as err:
            raise ModelError(self.explain(str(err))) from None
        return plan

    def explain(self, message: str) -> str:
        """Prefix a C message naming executor op N ("op N (KERNEL): ...") with its TFLite operator."""
        m = _EXECUTOR_OP.search(message)
        if m and 0 <= int(m.group(1)) < len(self.ops):
            e = self.ops[int(m.group(1))]
            return f"operator {e.source_index} ({e.source_name}): {message}"
        return message
