"""Helpers shared by commands: reading input arrays, JSON-friendly arrays."""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..quant import dequantize


def load_inputs(model, paths, use_float: bool, seed: int):
    """Inputs from .npy/.npz files (one .npy per input in order, or one .npz keyed by
    input name), or random ones when no file is given."""
    if not paths:
        rng = np.random.default_rng(seed)
        xs = []
        for spec in model.inputs:
            if use_float and spec.quantized:
                info = np.iinfo(spec.dtype)
                lo = float(dequantize(np.array(info.min), spec.scale, spec.zero_point))
                hi = float(dequantize(np.array(info.max), spec.scale, spec.zero_point))
                xs.append(rng.uniform(lo, hi, spec.shape).astype(np.float32))
            elif np.issubdtype(np.dtype(spec.dtype), np.integer):
                info = np.iinfo(spec.dtype)
                xs.append(rng.integers(info.min, info.max, spec.shape, dtype=spec.dtype, endpoint=True))
            else:
                xs.append(rng.standard_normal(spec.shape).astype(spec.dtype))
        return xs
    arrays = []
    for path in paths:
        if not os.path.isfile(path):
            raise InputError(f"input file {path!r} does not exist")
        try:
            loaded = np.load(path, allow_pickle=False)
        except Exception as e:
            raise InputError(f"cannot read input file {path!r}: {e}") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                return {k: loaded[k] for k in loaded.files}
        arrays.append(loaded)
    return arrays


def to_json_array(a: np.ndarray) -> dict:
    return {"shape": list(a.shape), "dtype": str(a.dtype), "data": a.tolist()}
