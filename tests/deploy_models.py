"""Test helper for package/deploy tests: tiny int8 FULLY_CONNECTED models written with
runtime.tflite.writer, and a model loader with the runtime.load interface.

`model_loader()` returns `runtime.load` when it is available and runs these models; otherwise
(while the C runtime is being built) an adapter over the LiteRT reference interpreter with the
same interface (`inputs`/`outputs` with name/shape/dtype/scale/zero_point, `infer(x)`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from runtime.tflite.writer import ModelBuilder


def fc_model(in_features: int = 8, out_features: int = 4, seed: int = 0,
             out_zero_point: int = 2) -> bytes:
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(out_features, in_features), dtype=np.int8)
    w_scale = np.full(out_features, 0.02, np.float32)
    b = rng.integers(-500, 500, size=out_features).astype(np.int32)
    mb = ModelBuilder()
    x = mb.add_tensor("input", (1, in_features), "int8", scale=0.05, zero_point=-3)
    wt = mb.add_tensor("weights", (out_features, in_features), "int8", data=w, scale=w_scale,
                       zero_point=np.zeros(out_features, np.int64), quantized_dimension=0)
    bt = mb.add_tensor("bias", (out_features,), "int32", data=b, scale=0.05 * w_scale,
                       zero_point=np.zeros(out_features, np.int64), quantized_dimension=0)
    y = mb.add_tensor("output", (1, out_features), "int8", scale=0.1, zero_point=out_zero_point)
    mb.add_operator("FULLY_CONNECTED", [x, wt, bt], [y])
    mb.set_io([x], [y])
    return mb.build()


@dataclass
class _Tensor:
    name: str
    shape: tuple
    dtype: np.dtype
    scale: float
    zero_point: int


class LiteRTModel:
    """runtime.load-like wrapper over the LiteRT BUILTIN_REF interpreter (tests only)."""

    def __init__(self, model_bytes: bytes):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        from runtime.errors import ModelError
        try:
            self._it = Interpreter(model_content=bytes(model_bytes),
                                   experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"LiteRT cannot load the model: {e}") from None
        self._in = self._it.get_input_details()
        self._out = self._it.get_output_details()
        conv = lambda d: _Tensor(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]),
                                 float(d["quantization"][0]), int(d["quantization"][1]))
        self.inputs = [conv(d) for d in self._in]
        self.outputs = [conv(d) for d in self._out]

    def infer(self, x):
        self._it.set_tensor(self._in[0]["index"], np.asarray(x))
        self._it.invoke()
        return self._it.get_tensor(self._out[0]["index"]).copy()


def model_loader():
    try:
        import runtime
        load = runtime.load
        m = load(fc_model())
        m.infer(np.zeros((1, 8), np.int8))
        return load
    except Exception:
        return LiteRTModel


@pytest.fixture(scope="module")
def loader():
    """Fixture: the model loader the deployment code uses (runtime.load)."""
    return model_loader()


@pytest.fixture(scope="module")
def keys():
    """Fixture: a fresh ed25519 (private, public) key pair."""
    from runtime.core.package import generate_keypair, load_private_key, load_public_key
    priv, pub = generate_keypair()
    return load_private_key(priv), load_public_key(pub)
