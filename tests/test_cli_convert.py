"""`ember convert` on the command line."""
from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("ai_edge_litert")

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from runtime.cli import main  # noqa: E402
from tests.oracle import litert_ref_samples  # noqa: E402


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_convert")
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=300, random_state=0).fit(X, y)
    model = d / "iris.pkl"
    model.write_bytes(pickle.dumps(clf))
    np.save(d / "calib.npy", X)
    np.savetxt(d / "calib.csv", X, delimiter=",")
    return d, X, clf


def test_convert_pickle_with_npy_calibration(iris_files, capsys):
    d, X, clf = iris_files
    out = d / "iris.tflite"
    rc = main(["convert", str(d / "iris.pkl"), "-c", str(d / "calib.npy"), "-o", str(out), "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "SNR dB" in text and f"wrote {out}" in text
    blob = out.read_bytes()
    assert blob[4:8] == b"TFL3"


def test_convert_json_csv_float_io(iris_files, capsys):
    d, X, clf = iris_files
    out = d / "iris_f.tflite"
    rc = main(["convert", str(d / "iris.pkl"), "-c", str(d / "calib.csv"), "-o", str(out), "--io", "float32",
               "--json", "--samples", "100"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bytes"] == out.stat().st_size
    assert summary["inputs"][0]["shape"] == [1, 4] and summary["outputs"][0]["shape"] == [1, 3]
    assert all(layer["snr_db"] is None or layer["snr_db"] > 20 for layer in summary["layers"])
    probs = litert_ref_samples(out.read_bytes(), X)
    assert probs.dtype == np.float32
    assert np.mean(probs.argmax(1) == clf.predict(X)) >= 0.97


def test_convert_errors_exit_1_with_message(iris_files, capsys):
    d, X, _ = iris_files
    assert main(["convert", str(d / "missing.onnx"), "-o", str(d / "x.tflite")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["convert", str(d / "iris.pkl"), "-o", str(d / "x.tflite")]) == 1
    assert "calibration data" in capsys.readouterr().err
    (d / "bad.npy").write_bytes(b"not numpy")
    assert main(["convert", str(d / "iris.pkl"), "-c", str(d / "bad.npy"), "-o", str(d / "x.tflite")]) == 1
    assert "cannot read calibration" in capsys.readouterr().err
    (d / "junk.onnx").write_bytes(b"\x00\x01junk")
    assert main(["convert", str(d / "junk.onnx"), "-c", str(d / "calib.npy"), "-o", str(d / "x.tflite")]) == 1
    assert "unrecognised model" in capsys.readouterr().err


def test_convert_onnx_float_and_qdq_from_the_command_line(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx

    from tests.test_convert_onnx import _chain_model, _qdq

    rng = np.random.default_rng(7)
    m = _chain_model(rng)
    X = rng.normal(0, 1, (48, 3, 8, 8)).astype(np.float32)
    onnx.save(m, str(tmp_path / "f.onnx"))
    np.save(tmp_path / "calib.npy", X)                     # NCHW, as the ONNX model takes it
    out = tmp_path / "f.tflite"
    assert main(["convert", str(tmp_path / "f.onnx"), "-c", str(tmp_path / "calib.npy"), "-o", str(out),
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "NHWC" in captured.err and "SNR dB" in captured.out
    y = litert_ref_samples(out.read_bytes(), np.zeros((1, 8, 8, 3), np.int8))
    assert y.shape == (1, 10)
    qdq = _qdq(tmp_path, m, X[:16], per_channel=True)
    out2 = tmp_path / "q.tflite"
    assert main(["convert", str(qdq), "-o", str(out2), "--no-progress"]) == 0   # QDQ: no calibration
    assert out2.read_bytes()[4:8] == b"TFL3"
