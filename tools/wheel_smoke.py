#!/usr/bin/env python3
"""Smoke test of an installed Ember wheel: needs only the wheel and its dependencies.

Used as cibuildwheel's test-command and by tools/cross_wheel.sh under qemu. Exits 0 and
prints one line on success; raises (non-zero exit) on any failure.
  1. the C extension imports and reports its kernel path;
  2. the bundled vibration-anomaly model loads and classifies a healthy and a faulty window;
  3. a model written by runtime.tflite.writer runs and matches a pure-Python reference;
  4. the core's Cython MQTT frame parser (runtime.core._mqtt_fast) imports and cuts a
     PUBLISH it built back out of a split byte stream.
"""
import json
import platform
import sys

import numpy as np


def _quantize(x, scale, zp):
    v = np.asarray(x, np.float64) / scale
    return np.clip(np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)) + zp, -128, 127).astype(np.int8)


def main() -> int:
    import runtime
    from runtime import _core  # noqa: F401  (the compiled extension must import)
    from runtime.tflite.writer import ModelBuilder

    try:
        from importlib.resources import files
        data = files("runtime").joinpath("data")
        meta = json.loads(data.joinpath("vibration_anomaly.json").read_text())
        blob = data.joinpath("vibration_anomaly.tflite").read_bytes()
    except (ImportError, AttributeError):      # Python < 3.9
        import os
        d = os.path.join(os.path.dirname(runtime.__file__), "data")
        with open(os.path.join(d, "vibration_anomaly.json")) as f:
            meta = json.load(f)
        with open(os.path.join(d, "vibration_anomaly.tflite"), "rb") as f:
            blob = f.read()
    model = runtime.load(blob)
    spec = meta["inputs"][0]
    windows = {"normal": [0.0, 0.354, 0.55, 1.55], "bearing_fault": [0.06, 0.62, 3.55, 5.7]}
    for label, feats in windows.items():
        y = np.asarray(model.infer(_quantize(np.array([feats]), spec["scale"], spec["zero_point"])))
        got = meta["labels"][int(np.argmax(y))]
        assert got == label, f"bundled model says {got!r} for a {label} window ({y})"

    # writer -> Ember: FULLY_CONNECTED with per-tensor weights, checked against integer math
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (4, 8)).astype(np.int8)
    b = rng.integers(-500, 500, 4).astype(np.int32)
    mb = ModelBuilder()
    xi = mb.add_tensor("x", (1, 8), "int8", scale=0.05, zero_point=3)
    wi = mb.add_tensor("w", (4, 8), "int8", data=w, scale=0.01, zero_point=0)
    bi = mb.add_tensor("b", (4,), "int32", data=b, scale=0.0005, zero_point=0)
    yi = mb.add_tensor("y", (1, 4), "int8", scale=0.2, zero_point=-5)
    mb.add_operator("FULLY_CONNECTED", [xi, wi, bi], [yi], {})
    mb.set_io([xi], [yi])
    x = rng.integers(-128, 128, (1, 8)).astype(np.int8)
    got = np.asarray(runtime.load(mb.build()).infer(x)).astype(np.int64)
    acc = (x.astype(np.int64) - 3) @ w.T.astype(np.int64) + b
    want = np.clip(np.round(acc * (0.05 * 0.01 / 0.2)) - 5, -128, 127)
    assert np.max(np.abs(got - want)) <= 1, (got, want)

    from runtime.core import _mqtt_fast
    frame = bytes(_mqtt_fast.publish_frame("ember/nodes/n1/data", b'{"seq":1}', 1, 7))
    parser = _mqtt_fast.FrameParser()
    first = parser.parse(frame[:3])
    publishes = parser.parse(frame[3:])[0]
    assert not first[0] and len(publishes) == 1, (first, publishes)
    assert bytes(publishes[0][1]) == b'{"seq":1}' and publishes[0][2] == 7, publishes

    isa = getattr(model, "isa", "?")
    print(f"ember wheel smoke test ok: {platform.machine()} python {platform.python_version()} "
          f"numpy {np.__version__} kernels {isa}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
