"""The bundled vibration-anomaly model (runtime/data/vibration_anomaly.{tflite,json}) built by
tools/train_demo_model.py: consistent sidecar, runs in LiteRT and Ember, and classifies windows
from the firmware's own simulated vibration sensor and feature code."""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "runtime", "data")
TFLITE = os.path.join(DATA, "vibration_anomaly.tflite")
META = os.path.join(DATA, "vibration_anomaly.json")


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def meta():
    with open(META) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def blob():
    with open(TFLITE, "rb") as f:
        return f.read()


def firmware_windows(kind, count=30, window=64, seed=3):
    """Feature vectors from the firmware's SimulatedVibration and features() (run in CPython)."""
    paths = [os.path.join(ROOT, "firmware", "fakes"), os.path.join(ROOT, "firmware", "src")]
    before = set(sys.modules)
    sys.path[:0] = paths
    try:
        sim = _load_module("ember_fw_simulated", os.path.join(paths[1], "sensors", "simulated.py"))
        feats = _load_module("ember_fw_filters", os.path.join(paths[1], "filters.py")).features
        s = sim.SimulatedVibration(seed=seed)
        if kind != "normal":
            s.inject(kind)
        out = []
        buf = [0.0] * window
        for _ in range(count):
            s.burst(buf)
            out.append(feats(buf))
    finally:
        for p in paths:
            sys.path.remove(p)
        for name in set(sys.modules) - before:   # firmware module names are generic (compat, ...)
            del sys.modules[name]
    return np.array(out, np.float32)


def test_sidecar_matches_the_model(meta, blob):
    tflite = pytest.importorskip("tflite")
    assert blob[4:8] == b"TFL3" and len(blob) < 8192
    m = tflite.Model.GetRootAsModel(blob, 0)
    sg = m.Subgraphs(0)
    tin = sg.Tensors(int(sg.InputsAsNumpy()[0]))
    tout = sg.Tensors(int(sg.OutputsAsNumpy()[0]))
    assert list(tin.ShapeAsNumpy()) == meta["inputs"][0]["shape"] == [1, len(meta["inputs"][0]["features"])]
    assert abs(tin.Quantization().ScaleAsNumpy()[0] - meta["inputs"][0]["scale"]) < 1e-9
    assert tin.Quantization().ZeroPointAsNumpy()[0] == meta["inputs"][0]["zero_point"]
    assert list(tout.ShapeAsNumpy()) == [1, len(meta["labels"])]
    assert meta["inputs"][0]["features"] == ["mean", "rms", "peak", "crest"]
    assert meta["features"] == ["vib_mean", "vib_rms", "vib_peak", "vib_crest"]   # runtime/core/demo.py reads these
    assert meta["labels"][0] == meta["normal_label"] == "normal"
    assert set(meta["anomaly_labels"]) == set(meta["labels"]) - {"normal"}
    assert meta["training"]["int8_accuracy_simulated"] >= meta["training"]["float_accuracy"] - 0.01


def _classify(meta, blob, X, runner):
    s, zp = meta["inputs"][0]["scale"], meta["inputs"][0]["zero_point"]
    v = X / s
    xq = np.clip(np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)) + zp, -128, 127).astype(np.int8)
    return runner(blob, xq).argmax(axis=1)


@pytest.mark.parametrize("kind,label", [("normal", "normal"), ("bearing", "bearing_fault"),
                                        ("stuck", "sensor_fault"), ("dropout", "sensor_fault")])
def test_flags_firmware_simulated_faults(meta, blob, kind, label):
    pytest.importorskip("ai_edge_litert")
    from tests.oracle import ember_outputs, litert_ref_samples

    X = firmware_windows(kind)
    pred = _classify(meta, blob, X, litert_ref_samples)
    want = meta["labels"].index(label)
    assert np.mean(pred == want) >= 0.9, (kind, pred)
    ember = _classify(meta, blob, X, lambda b, xq: ember_outputs(b, xq))
    np.testing.assert_array_equal(ember, pred)


def test_training_script_is_reproducible_and_accurate(tmp_path):
    pytest.importorskip("sklearn")
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import train_demo_model
    finally:
        sys.path.pop(0)
    meta = train_demo_model.build(str(tmp_path), n_train=1500, n_test=600)
    assert (tmp_path / "vibration_anomaly.tflite").stat().st_size > 0
    tr = meta["training"]
    assert tr["float_accuracy"] >= 0.97
    assert tr["int8_accuracy_simulated"] >= tr["float_accuracy"] - 0.01
    again = train_demo_model.build(str(tmp_path / "again"), n_train=1500, n_test=600)
    assert (tmp_path / "again" / "vibration_anomaly.tflite").read_bytes() == \
        (tmp_path / "vibration_anomaly.tflite").read_bytes()
    assert again["training"] == tr
