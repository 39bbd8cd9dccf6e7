"""Models for the core service tests.

`load_model(path)` is `runtime.load` once the runtime provides it; before that
it is an adapter over the LiteRT BUILTIN_REF interpreter with the same
interface (inputs/outputs with shape, dtype, scale, zero_point; infer()).
`reference_infer(path, x)` is the independent oracle the tests compare against.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# ../shared/models relative to the repo root (worktrees sit one level deeper)
KWS = next((p / "shared" / "models" / "kws_ref_model.tflite" for p in REPO.parents
            if (p / "shared" / "models" / "kws_ref_model.tflite").is_file()),
           REPO.parent / "shared" / "models" / "kws_ref_model.tflite")


def _litert(path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    return it


def reference_infer(path, x: np.ndarray) -> np.ndarray:
    it = _litert(path)
    d_in, d_out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(d_in["index"], x.reshape(d_in["shape"]).astype(d_in["dtype"]))
    it.invoke()
    return it.get_tensor(d_out["index"]).copy()


class LiteRTModel:
    def __init__(self, path):
        self._it = _litert(path)
        def spec(d):
            s, z = d["quantization"]
            return SimpleNamespace(name=d["name"], shape=tuple(int(v) for v in d["shape"]),
                                   dtype=np.dtype(d["dtype"]).name, scale=s, zero_point=z)
        self._in = self._it.get_input_details()[0]
        self._out = self._it.get_output_details()[0]
        self.inputs = [spec(self._in)]
        self.outputs = [spec(self._out)]

    def infer(self, x):
        self._it.set_tensor(self._in["index"], np.asarray(x, np.int8).reshape(self._in["shape"]))
        self._it.invoke()
        return self._it.get_tensor(self._out["index"]).copy()


def load_model(path):
    """runtime.load(path); the LiteRT adapter while the runtime lacks an op the model uses."""
    import runtime
    from runtime.errors import UnsupportedOpError
    if hasattr(runtime, "load"):
        try:
            return runtime.load(str(path))
        except UnsupportedOpError:
            pass
    return LiteRTModel(path)
