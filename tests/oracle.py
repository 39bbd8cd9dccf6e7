"""Reference outputs from LiteRT (ai-edge-litert), the project's numerics oracle.

litert_ref uses the reference kernels (OpResolverType.BUILTIN_REF): Ember's target is 0
differences against it. litert_xnnpack uses the default builtin kernels plus the XNNPACK
delegate, useful to show where optimised LiteRT differs from its own reference.
"""
from __future__ import annotations

import numpy as np


def _run(model_bytes: bytes, inputs, resolver, num_threads: int = 1) -> list:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=bytes(model_bytes), experimental_op_resolver_type=resolver,
                         num_threads=num_threads)
    details = interp.get_input_details()
    if len(details) != len(inputs):
        raise ValueError(f"model has {len(details)} inputs, got {len(inputs)}")
    for d, x in zip(details, inputs):
        x = np.asarray(x)
        if tuple(d["shape"]) != x.shape:
            interp.resize_tensor_input(d["index"], x.shape)
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), inputs):
        interp.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
    interp.invoke()
    return [np.array(interp.get_tensor(d["index"]), copy=True) for d in interp.get_output_details()]


def litert_ref(model_bytes: bytes, inputs) -> list:
    """Run with LiteRT's reference kernels (BUILTIN_REF); returns copies of all outputs."""
    from ai_edge_litert.interpreter import OpResolverType

    return _run(model_bytes, inputs, OpResolverType.BUILTIN_REF)


def litert_xnnpack(model_bytes: bytes, inputs) -> list:
    """Run with LiteRT's optimised builtin kernels and the default (XNNPACK) delegate."""
    from ai_edge_litert.interpreter import OpResolverType

    return _run(model_bytes, inputs, OpResolverType.BUILTIN)


def litert_ref_samples(model_bytes: bytes, samples) -> np.ndarray:
    """Run single-input model on each sample (batch 1) with one BUILTIN_REF interpreter;
    returns the stacked first outputs. `samples` has a leading sample axis."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=bytes(model_bytes),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    results = []
    for x in samples:
        interp.set_tensor(inp["index"], np.ascontiguousarray(np.asarray(x).reshape(inp["shape"]), dtype=inp["dtype"]))
        interp.invoke()
        results.append(np.array(interp.get_tensor(out["index"]), copy=True))
    return np.concatenate(results, axis=0)


def ember_outputs(tflite: bytes, samples) -> np.ndarray:
    """Run the converted model in Ember (runtime.load); skips while an op is not implemented yet."""
    import pytest

    import runtime
    from runtime.errors import UnsupportedOpError

    try:
        model = runtime.load(tflite)
    except UnsupportedOpError as exc:
        pytest.skip(f"Ember cannot run this model yet: {exc}")
    return np.concatenate([np.asarray(model.infer(x[None])) for x in samples], axis=0)
