"""Quantization error report: float graph vs int8 model, per layer and for the whole model.

The int8 side is the real quantized model run by LiteRT BUILTIN_REF with all intermediate
tensors preserved when ai-edge-litert is installed ("litert"); otherwise a numpy fake-quant
simulation of the same parameters ("simulated": quantized weights and biases, every tensor
rounded to its int8 grid) stands in. The report says which one it used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .calibrate import batches
from .graph import Graph
from .quantizer import QuantizedModel, round_half_away


@dataclass
class LayerError:
    tensor: str
    op: str
    snr_db: float
    max_abs_error: float
    scale: float


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    err = float(np.sum((ref - np.asarray(test, np.float64)) ** 2))
    sig = float(np.sum(ref ** 2))
    if err == 0.0:
        return math.inf
    if sig == 0.0:
        return -math.inf
    return 10.0 * math.log10(sig / err)


def quantize_np(x, scale, zp):
    return np.clip(round_half_away(np.asarray(x, np.float64) / scale) + zp, -128, 127)


def simulate(graph: Graph, qm: QuantizedModel, feeds: dict) -> dict:
    """Fake-quant evaluation of the quantized model's parameters; returns every tensor (float)."""
    def observe(name, v):
        if name in qm.qparams:
            s, zp = qm.qparams[name]
            return (quantize_np(v, s, zp) - zp) * s
        return None

    def weights(node):
        return qm.dequantized_weights.get(node.name, {})
    return graph.run(feeds, observe=observe, weights=weights)


def _litert_tensors(graph: Graph, qm: QuantizedModel, feeds: dict) -> dict:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=qm.tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    by_name = {d["name"]: d for d in interp.get_tensor_details()}
    n = len(next(iter(feeds.values())))
    wanted = [t for t in qm.qparams if t in by_name]
    out = {t: [] for t in wanted}
    in_details = interp.get_input_details()
    for i in range(n):
        for name, d in zip(qm.input_names, in_details):
            x = np.asarray(feeds[name][i:i + 1], np.float64)
            if qm.io_dtype == "int8":
                s, zp = qm.qparams[name]
                x = quantize_np(x, s, zp).astype(np.int8)
            interp.set_tensor(d["index"], np.ascontiguousarray(x, dtype=d["dtype"]))
        interp.invoke()
        for t in wanted:
            s, zp = qm.qparams[t]
            out[t].append((interp.get_tensor(by_name[t]["index"]).astype(np.float64) - zp) * s)
    return {t: np.concatenate(v, axis=0) for t, v in out.items()}


def layer_errors(graph: Graph, qm: QuantizedModel, data, max_samples: int = 64, executor: str = "auto"):
    """Per-tensor errors of the int8 model against the float graph. Returns (rows, executor used)."""
    feeds = None
    for batch, _ in batches(data, max_samples):
        feeds = batch if isinstance(batch, dict) else {graph.inputs[0]: batch}
        break
    if feeds is None:
        raise ValueError("no data for the error report")
    ref = graph.run(feeds)
    used = executor
    if executor == "auto":
        try:
            import ai_edge_litert  # noqa: F401
            used = "litert"
        except ImportError:
            used = "simulated"
    got = _litert_tensors(graph, qm, feeds) if used == "litert" else simulate(graph, qm, feeds)
    producers = graph.producers()
    rows = []
    for name in [o for n in graph.nodes for o in n.outputs]:
        if name not in got:
            continue
        f = ref[name].reshape(got[name].shape)
        rows.append(LayerError(name, producers[name].op, snr_db(f, got[name]),
                               float(np.max(np.abs(f - got[name]))) if f.size else 0.0,
                               float(qm.qparams[name][0])))
    return rows, used


def format_report(rows, executor: str) -> str:
    lines = [f"per-layer quantization error (float vs int8, int8 side: {executor})",
             f"{'tensor':40s} {'op':18s} {'SNR dB':>8s} {'max|err|':>10s} {'scale':>10s}"]
    for r in rows:
        snr = "inf" if math.isinf(r.snr_db) and r.snr_db > 0 else f"{r.snr_db:8.2f}"
        lines.append(f"{r.tensor[:40]:40s} {r.op:18s} {snr:>8s} {r.max_abs_error:10.4g} {r.scale:10.4g}")
    return "\n".join(lines)
