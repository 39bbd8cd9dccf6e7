"""`ember convert`: quantize a float model to an int8 .tflite (runtime.convert)."""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

from ..errors import InputError

HELP = "quantize a float model (.onnx, .tflite, scikit-learn .pkl/.joblib) to int8 .tflite"


def register(subparsers):
    p = subparsers.add_parser(
        "convert", help=HELP,
        description="Post-training int8 quantization (TFLite int8 spec) without TensorFlow. "
                    "Already-quantized ONNX QDQ models need no calibration data. "
                    "Pickled scikit-learn models are loaded with pickle/joblib: only convert files you trust.")
    p.add_argument("model", help="float .onnx, float .tflite, QDQ .onnx, or scikit-learn .pkl/.joblib")
    p.add_argument("-o", "--output", required=True, help="where to write the int8 .tflite")
    p.add_argument("-c", "--calibration", help="representative inputs: .npy (samples first), .npz "
                   "(one array per input name) or .csv (one sample per row). ONNX 4-D data in NCHW.")
    p.add_argument("--samples", type=int, default=None, help="use at most this many calibration samples")
    p.add_argument("--io", choices=("int8", "float32"), default="int8",
                   help="model input/output type (float32 adds QUANTIZE/DEQUANTIZE; default int8)")
    p.add_argument("--per-channel-fc", action="store_true",
                   help="per-channel weights for FULLY_CONNECTED too (default per-tensor)")
    p.add_argument("--no-progress", action="store_true", help="no calibration progress bar")
    p.add_argument("--no-report", action="store_true", help="skip the per-layer error report")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def load_calibration(path: str):
    if not os.path.isfile(path):
        raise InputError(f"calibration file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".csv":
            return np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        data = np.load(path, allow_pickle=False)
    except Exception as e:   # numpy raises many types for bad files
        raise InputError(f"cannot read calibration file {path!r}: {e}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            return {k: data[k].astype(np.float32) for k in data.files}
    return np.asarray(data, dtype=np.float32)


def run(args) -> int:
    from ..convert import convert

    calib = load_calibration(args.calibration) if args.calibration else None
    if args.samples is not None and args.samples <= 0:
        raise InputError("--samples must be positive")
    result = convert(args.model, calib, io_dtype=args.io, per_channel_fc=args.per_channel_fc,
                     progress=not args.no_progress and not args.json, report=not args.no_report,
                     max_samples=args.samples)
    try:
        result.save(args.output)
    except OSError as e:
        raise InputError(f"cannot write {args.output!r}: {e}") from None
    qp = result.quantized.qparams
    summary = {
        "output": args.output,
        "bytes": len(result.tflite),
        "inputs": [{"name": n, "shape": list(result.graph.shapes[n]), "scale": qp[n][0], "zero_point": qp[n][1]}
                   for n in result.graph.inputs],
        "outputs": [{"name": n, "shape": list(result.graph.shapes[n]), "scale": qp[n][0], "zero_point": qp[n][1]}
                    for n in result.graph.outputs],
        "report_executor": result.report_executor,
        "layers": [{"tensor": r.tensor, "op": r.op,
                    "snr_db": None if math.isinf(r.snr_db) else round(r.snr_db, 3),
                    "max_abs_error": r.max_abs_error, "scale": r.scale} for r in result.layers],
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if result.layers:
        print(result.report_text)
    snr = result.output_snr_db
    snr_text = f", output SNR {snr:.1f} dB" if snr is not None and math.isfinite(snr) else ""
    print(f"wrote {args.output} ({len(result.tflite)} bytes, {len(result.graph.nodes)} layers{snr_text})")
    if result.graph.input_perm:
        print("note: the .tflite takes NHWC input (ONNX NCHW inputs are transposed)", file=sys.stderr)
    return 0
