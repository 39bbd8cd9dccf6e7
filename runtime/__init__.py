"""Ember runtime: bit-exact int8 TFLite inference in C.

    import runtime
    m = runtime.load("model.tflite")      # validates everything, plans memory
    y = m.infer(x)                        # numpy int8 in -> out
    y = runtime.infer("model.tflite", x)  # cached one-shot form
"""
from .errors import EmberError, InputError, ModelError, RuntimeFailure, UnsupportedOpError
from .model import Layer, Model, TensorSpec, clear_cache, infer, load

__all__ = [
    "EmberError", "InputError", "ModelError", "RuntimeFailure", "UnsupportedOpError",
    "Layer", "Model", "TensorSpec", "clear_cache", "infer", "load",
]
__version__ = "0.1.0"
