"""A tiny vibration anomaly model for the demo tests, used only while the bundled
runtime/data/vibration_anomaly.tflite (made by the project's training script) is absent.

FULLY_CONNECTED(4 -> 1) + LOGISTIC over the firmware's window features
(vib_mean, vib_rms, vib_peak, vib_crest), normalised by the .json beside it:
a high crest factor / peak (bearing impacts) gives a score near 1.
"""
import json
from pathlib import Path

import numpy as np

from runtime.tflite.writer import ModelBuilder


def write_demo_model(directory: Path) -> Path:
    mb = ModelBuilder("ember demo test model")
    x = mb.add_tensor("features", (1, 4), "int8", scale=0.05, zero_point=0)
    w = np.array([[0, 0, 64, 127]], np.int8)                      # peak 0.5, crest 1.0 (scale 1/127)
    w_scale = np.array([1 / 127], np.float32)
    wt = mb.add_tensor("w", (1, 4), "int8", data=w, scale=w_scale, zero_point=np.zeros(1, np.int64),
                       quantized_dimension=0)
    b = np.array([round(-2.0 / (0.05 / 127))], np.int32)           # bias -2.0
    bt = mb.add_tensor("b", (1,), "int32", data=b, scale=0.05 * w_scale, zero_point=np.zeros(1, np.int64),
                       quantized_dimension=0)
    logit = mb.add_tensor("logit", (1, 1), "int8", scale=0.05, zero_point=0)
    y = mb.add_tensor("score", (1, 1), "int8", scale=1 / 256, zero_point=-128)
    mb.add_operator("FULLY_CONNECTED", [x, wt, bt], [logit])
    mb.add_operator("LOGISTIC", [logit], [y])
    mb.set_io([x], [y])
    path = Path(directory) / "vibration_test.tflite"
    path.write_bytes(mb.build())
    path.with_suffix(".json").write_text(json.dumps({
        "version": "0.0.1-test", "features": ["vib_mean", "vib_rms", "vib_peak", "vib_crest"],
        "mean": [0.0, 0.36, 0.6, 1.6], "std": [0.05, 0.1, 0.5, 0.5], "labels": ["normal", "anomaly"]}))
    return path
