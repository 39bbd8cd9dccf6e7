#!/usr/bin/env python3
"""Train and quantize the bundled vibration-anomaly model (runtime/data/vibration_anomaly.*).

Reproducible: fixed seeds, synthetic data only. Windows of a machine vibration (a sine at a
random frequency/amplitude plus noise, sampled at 1 kHz, 32..256 samples) are labelled
  normal         healthy machine
  bearing_fault  periodic decaying impacts (raise peak and crest factor)
  sensor_fault   stuck sensor (constant reading) or dropout (zeros)
and reduced to the four features the firmware sends for every vibration window
(firmware/src/filters.py `features`): mean, RMS, peak (max |x|), crest factor (peak / RMS).
A small scikit-learn MLP (4 -> 16 -> 8 -> 3, ReLU, softmax) is trained on them and quantized
to int8 with `ember convert` (runtime.convert). The JSON sidecar describes inputs and labels.

    python tools/train_demo_model.py            # writes runtime/data/vibration_anomaly.{tflite,json}
    python tools/train_demo_model.py --out DIR
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

FEATURES = ["mean", "rms", "peak", "crest"]
LABELS = ["normal", "bearing_fault", "sensor_fault"]
RATE_HZ = 1000.0
SEED = 20240611


def window_features(x: np.ndarray) -> np.ndarray:
    """Exactly the firmware's features(): (mean, rms, peak, crest)."""
    x = np.asarray(x, np.float64)
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    return np.array([float(np.mean(x)), rms, peak, peak / rms if rms > 0 else 0.0])


def synth_window(rng: np.random.Generator, label: str) -> np.ndarray:
    n = int(rng.choice([32, 48, 64, 64, 64, 96, 128, 256]))
    start = int(rng.integers(0, 100000))
    t = np.arange(start, start + n, dtype=np.float64)
    amp = rng.uniform(0.2, 1.0)
    freq = rng.uniform(10.0, 150.0)
    noise = rng.uniform(0.01, 0.12)
    x = amp * np.sin(2 * np.pi * freq * t / RATE_HZ) + noise * rng.standard_normal(n)
    if label == "normal":
        if rng.random() < 0.3:      # a second harmonic: still healthy
            x += rng.uniform(0.05, 0.2) * amp * np.sin(4 * np.pi * freq * t / RATE_HZ + rng.uniform(0, 6.3))
        return x
    if label == "bearing_fault":
        every = int(rng.integers(15, 60))
        impact = amp * rng.uniform(2.5, 8.0)
        k = (t.astype(np.int64)) % every
        if not np.any(k < 4):       # make sure the window sees an impact
            k = (np.arange(n) + every - 1) % every
        return x + np.where(k < 4, impact / (1 + k * k), 0.0)
    # sensor_fault
    if rng.random() < 0.5:
        return np.full(n, rng.uniform(-1.0, 1.0) if rng.random() < 0.7 else amp)   # stuck
    return np.zeros(n)                                                              # dropout


def dataset(rng: np.random.Generator, n: int):
    probs = [0.6, 0.25, 0.15]
    y = rng.choice(len(LABELS), size=n, p=probs)
    X = np.stack([window_features(synth_window(rng, LABELS[c])) for c in y]).astype(np.float32)
    return X, y


def train(n_train: int = 6000, n_test: int = 2000):
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(SEED)
    Xtr, ytr = dataset(rng, n_train)
    Xte, yte = dataset(rng, n_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # strong L2 keeps the logits moderate: int8 softmax needs them within a few units, not hundreds
        clf = MLPClassifier(hidden_layer_sizes=(16, 8), solver="lbfgs", max_iter=600, alpha=1.0,
                            random_state=0).fit(Xtr, ytr)
    return clf, (Xtr, ytr), (Xte, yte)


def build(out_dir: str, n_train: int = 6000, n_test: int = 2000, progress: bool = False) -> dict:
    from runtime.convert import convert

    clf, (Xtr, ytr), (Xte, yte) = train(n_train, n_test)
    result = convert(clf, Xtr, progress=progress, report=True)
    in_s, in_zp = result.quantized.qparams[result.graph.inputs[0]]
    out_s, out_zp = result.quantized.qparams[result.graph.outputs[0]]
    float_acc = float(np.mean(clf.predict(Xte) == yte))
    # int8 accuracy via the fake-quant simulation of the same parameters (no LiteRT needed here)
    from runtime.convert.report import simulate
    sim = simulate(result.graph, result.quantized, {result.graph.inputs[0]: Xte})[result.graph.outputs[0]]
    int8_acc = float(np.mean(sim.argmax(1) == yte))
    os.makedirs(out_dir, exist_ok=True)
    tfl = os.path.join(out_dir, "vibration_anomaly.tflite")
    result.save(tfl)
    meta = {
        "name": "vibration_anomaly",
        "description": "Flags vibration windows as normal, bearing_fault or sensor_fault from the four "
                       "window features the Ember firmware sends (channel 'vib' -> f['vib_mean'], ...).",
        "inputs": [{
            "name": result.graph.inputs[0], "shape": [1, len(FEATURES)], "dtype": "int8",
            "scale": in_s, "zero_point": in_zp,
            "features": FEATURES,
            "firmware_keys": "{channel}_{feature}",
        }],
        "outputs": [{
            "name": result.graph.outputs[0], "shape": [1, len(LABELS)], "dtype": "int8",
            "scale": out_s, "zero_point": out_zp, "meaning": "class probabilities (softmax)",
            "labels": LABELS,
        }],
        # the message keys the firmware uses for its default vibration channel "vib", in input order
        "features": [f"vib_{name}" for name in FEATURES],
        "labels": LABELS,
        "normal_label": "normal",
        "anomaly_labels": [label for label in LABELS if label != "normal"],
        "training": {
            "script": "tools/train_demo_model.py", "seed": SEED, "train_samples": int(n_train),
            "test_samples": int(n_test), "float_accuracy": round(float_acc, 4),
            "int8_accuracy_simulated": round(int8_acc, 4),
            "output_snr_db": round(float(result.output_snr_db), 2),
        },
    }
    with open(os.path.join(out_dir, "vibration_anomaly.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "runtime", "data"))
    args = ap.parse_args(argv)
    meta = build(args.out, progress=True)
    print(json.dumps(meta["training"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
