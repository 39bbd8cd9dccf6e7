"""`ember convert`: post-training int8 quantization to TFLite, without TensorFlow.

    from runtime.convert import convert
    result = convert(model, calibration_data)      # sklearn estimator, .onnx, float .tflite, QDQ .onnx
    open("model.tflite", "wb").write(result.tflite)
    print(result.report_text)

Pipeline: front end -> float `Graph` (graph.py) -> calibration ranges (calibrate.py) ->
int8 parameters and TFLite flatbuffer (quantizer.py, written by runtime.tflite.writer) ->
per-layer error report (report.py).
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import InputError, ModelError
from .calibrate import calibrate
from .graph import Graph
from .quantizer import MissingRangeError, QuantizedModel, quantize_graph
from .report import LayerError, format_report, layer_errors

__all__ = ["convert", "load_graph", "ConvertResult", "Graph", "QuantizedModel"]


@dataclass
class ConvertResult:
    tflite: bytes
    graph: Graph
    quantized: QuantizedModel
    layers: list = field(default_factory=list)      # [LayerError]
    report_executor: str = ""

    @property
    def report_text(self) -> str:
        return format_report(self.layers, self.report_executor) if self.layers else "(no report)"

    @property
    def output_snr_db(self) -> Optional[float]:
        outs = [r for r in self.layers if r.tensor in self.graph.outputs]
        return min(r.snr_db for r in outs) if outs else None

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.tflite)


def _looks_like_onnx(blob: bytes) -> bool:
    try:
        import onnx
        m = onnx.load_model_from_string(blob)
        return len(m.graph.node) > 0
    except Exception:
        return False


def load_graph(model) -> Graph:
    """Translate a supported model (object, path or bytes) into the float graph IR."""
    if isinstance(model, Graph):
        return model
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise InputError(f"model file {path!r} does not exist")
        ext = os.path.splitext(path)[1].lower()
        if ext in (".pkl", ".pickle", ".joblib"):
            if ext == ".joblib":
                import joblib
                obj = joblib.load(path)
            else:
                with open(path, "rb") as f:
                    obj = pickle.load(f)  # noqa: S301 - the user's own model file
            return load_graph(obj)
        with open(path, "rb") as f:
            blob = f.read()
        return load_graph(blob)
    if isinstance(model, (bytes, bytearray, memoryview)):
        blob = bytes(model)
        if len(blob) >= 8 and blob[4:8] == b"TFL3":
            from .frontends.tflite_float import from_tflite
            return from_tflite(blob)
        if _looks_like_onnx(blob):
            from .frontends.onnx import from_onnx
            return from_onnx(blob)
        raise ModelError("unrecognised model bytes (expected a .tflite flatbuffer or an ONNX model)")
    if type(model).__name__ == "ModelProto":
        from .frontends.onnx import from_onnx
        return from_onnx(model)
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        from .frontends.sklearn import from_sklearn
        return from_sklearn(model)
    raise ModelError(f"unsupported model type {type(model).__name__}")


def to_ir_layout(graph: Graph, data):
    """Transpose source-layout data (e.g. NCHW for ONNX) into the IR/.tflite layout (NHWC)."""
    if data is None or not graph.input_perm:
        return data
    if not isinstance(data, dict):
        data = {graph.inputs[0]: data}
    out = {}
    for k, v in data.items():
        v = np.asarray(v)
        perm = graph.input_perm.get(k)
        if perm is not None:
            if v.ndim != len(perm):
                raise InputError(f"input {k!r}: expected {len(perm)}-D data in the source model's layout, "
                                 f"got shape {v.shape}")
            v = v.transpose(perm)
        out[k] = v
    return out


def convert(model, calibration_data=None, *, io_dtype: str = "int8", per_channel_fc: bool = False,
            progress: bool = True, report: bool = True, report_samples: int = 64,
            batch_size: int = 64, max_samples: Optional[int] = None,
            report_executor: str = "auto") -> ConvertResult:
    """Quantize `model` to an int8 TFLite flatbuffer.

    calibration_data: array [samples, ...] for single-input models, or dict input name -> array;
    not needed for already-quantized (QDQ) ONNX models. io_dtype "int8" (default) gives int8
    inputs/outputs; "float32" wraps them in QUANTIZE/DEQUANTIZE.
    """
    graph = load_graph(model)
    graph.validate()
    calibration_data = to_ir_layout(graph, calibration_data)
    ranges = {}
    if calibration_data is not None:
        ranges = calibrate(graph, calibration_data, batch_size=batch_size, progress=progress,
                           max_samples=max_samples)
    try:
        qm = quantize_graph(graph, ranges, per_channel_fc=per_channel_fc, io_dtype=io_dtype)
    except MissingRangeError as exc:
        raise InputError(f"this model needs calibration data (representative inputs): {exc}") from exc
    rows, used = [], ""
    if report and calibration_data is not None:
        rows, used = layer_errors(graph, qm, calibration_data, max_samples=report_samples,
                                  executor=report_executor)
    return ConvertResult(qm.tflite, graph, qm, rows, used)


def quantize_input(result: ConvertResult, x: np.ndarray, name: Optional[str] = None) -> np.ndarray:
    """Float input -> the int8 the converted model expects."""
    from .report import quantize_np
    s, zp = result.quantized.qparams[name or result.graph.inputs[0]]
    return quantize_np(x, s, zp).astype(np.int8)


def dequantize_output(result: ConvertResult, q: np.ndarray, name: Optional[str] = None) -> np.ndarray:
    s, zp = result.quantized.qparams[name or result.graph.outputs[0]]
    return (np.asarray(q, np.float64) - zp) * s


__all__ += ["LayerError", "quantize_input", "dequantize_output"]
