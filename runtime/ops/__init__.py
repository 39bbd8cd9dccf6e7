"""Op builders: one module per TFLite builtin op (or family).

A builder turns one TFLite operator into executor ops. It validates
everything about the operator (types, ranks, shapes, quantization) and raises
through ``op.fail(...)`` (a ModelError naming the op) on anything wrong, then
computes the integer parameters exactly as TFLite's Prepare does and calls
``op.emit(...)`` with parameter names that match the C adapter's
``EMBER_<OP>_PARAMS`` list. See runtime/ops/base.py for the context object.

    from runtime.ops import register

    @register("CONV_2D")
    def build_conv_2d(op):
        x, w, b = op.inputs
        ...
        op.emit("CONV_2D", [x, w, b, op.const(mult, "mult"), op.const(shift, "shift")],
                [op.outputs[0]], {"stride_h": 1, ...})
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

BUILDERS: dict[str, Callable] = {}


def register(*names: str):
    def deco(fn):
        for n in names:
            if n in BUILDERS:
                raise RuntimeError(f"duplicate builder for {n}")
            BUILDERS[n] = fn
        return fn

    return deco


def load_all() -> dict[str, Callable]:
    """Import every builder module in this package (idempotent)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
    return BUILDERS
