"""The context an op builder receives (see runtime/ops/__init__.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn, Optional

import numpy as np

from ..errors import ModelError


@dataclass
class Tensor:
    """A tensor of the model being built.

    dtype: 'int8', 'uint8', 'int16', 'int32', 'int64' or 'float32'.
    scale / zero_point: 1-D arrays (float64 / int64); length 1 for per-tensor
    quantization, length C for per-channel (along quantized_dimension),
    empty when the tensor is not quantized.
    data: the constant's values (shape == self.shape, dtype == self.dtype) or None.
    """

    id: int
    name: str
    shape: tuple
    dtype: str
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    data: Optional[np.ndarray] = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1 and self.zero_point.size == 1

    def describe(self) -> str:
        return f"tensor {self.id} '{self.name}' {self.dtype}{list(self.shape)}"


@dataclass
class EmittedOp:
    kernel: str
    inputs: list
    outputs: list
    params: dict
    source_index: int
    source_name: str


class OpContext:
    """One TFLite operator being turned into executor ops.

    graph: the model under construction; it must provide
      ``new_const(array, name) -> Tensor`` and ``new_tensor(shape, dtype, scale, zp, name) -> Tensor``.
    """

    def __init__(self, graph: Any, index: int, name: str, inputs: list, outputs: list, options: dict):
        self.graph = graph
        self.index = index
        self.name = name
        self.inputs: list[Optional[Tensor]] = inputs
        self.outputs: list[Tensor] = outputs
        self.options: dict = options
        self.emitted: list[EmittedOp] = []

    def fail(self, msg: str) -> NoReturn:
        raise ModelError(f"operator {self.index} ({self.name}): {msg}")

    def require(self, cond: bool, msg: str) -> None:
        if not cond:
            self.fail(msg)

    def const(self, array: np.ndarray, name: str) -> Tensor:
        """Add a constant tensor (e.g. per-channel multipliers) owned by this op."""
        return self.graph.new_const(np.ascontiguousarray(array), f"op{self.index}/{name}")

    def intermediate(self, shape: tuple, dtype: str, scale: float = 0.0, zero_point: int = 0, name: str = "tmp") -> Tensor:
        """Add an activation tensor between two executor ops of this operator."""
        return self.graph.new_tensor(tuple(shape), dtype, scale, zero_point, f"op{self.index}/{name}")

    def emit(self, kernel: str, inputs: list, outputs: list, params: dict) -> None:
        self.emitted.append(EmittedOp(kernel, list(inputs), list(outputs), dict(params), self.index, self.name))
