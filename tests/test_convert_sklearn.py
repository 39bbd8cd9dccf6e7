"""ember convert on scikit-learn models: accuracy on digits within 1% of float, per-layer
error report, outputs run in LiteRT BUILTIN_REF (and in Ember, identical, once runtime.load exists)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("ai_edge_litert")

from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from runtime.convert import convert, dequantize_output, quantize_input  # noqa: E402
from runtime.errors import InputError, ModelError  # noqa: E402
from tests.oracle import ember_outputs, litert_ref_samples  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def digits_mlp(digits):
    Xtr, Xte, ytr, yte = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # ConvergenceWarning: kept short for CI time
        clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit(Xtr, ytr)
    return clf


def _int8_predictions(result, X):
    q = litert_ref_samples(result.tflite, quantize_input(result, X))
    return q


def test_digits_mlp_loses_at_most_one_percent(digits, digits_mlp):
    Xtr, Xte, ytr, yte = digits
    float_acc = float(np.mean(digits_mlp.predict(Xte) == yte))
    result = convert(digits_mlp, Xtr, progress=False)
    q = _int8_predictions(result, Xte)
    assert q.dtype == np.int8 and q.shape == (len(Xte), 10)
    int8_acc = float(np.mean(q.argmax(axis=1) == yte))
    assert float_acc > 0.95
    assert int8_acc >= float_acc - 0.01, (float_acc, int8_acc)
    # probabilities agree with the float model's
    p = dequantize_output(result, q)
    assert np.mean(np.abs(p - digits_mlp.predict_proba(Xte))) < 0.01


def test_report_has_every_layer_with_sane_snr(digits, digits_mlp):
    Xtr = digits[0]
    result = convert(digits_mlp, Xtr, progress=False)
    assert result.report_executor == "litert"
    assert [r.op for r in result.layers] == ["FULLY_CONNECTED"] * 2 + ["SOFTMAX"]
    for r in result.layers:
        assert r.snr_db > 25, result.report_text
    assert result.output_snr_db > 25
    text = result.report_text
    assert "dense0" in text and "SNR dB" in text
    # the fake-quant simulation agrees with the real int8 model to within a few dB
    sim = convert(digits_mlp, Xtr, progress=False, report_executor="simulated")
    assert sim.report_executor == "simulated"
    for a, b in zip(result.layers, sim.layers):
        assert abs(a.snr_db - b.snr_db) < 6, (a, b)


def test_logistic_regression_multinomial_and_binary_with_scaler():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    for target in (y, (y == 2).astype(int)):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, target)
        result = convert(model, X, progress=False)
        q = litert_ref_samples(result.tflite, quantize_input(result, X))
        p = dequantize_output(result, q)
        if p.shape[1] == 1:       # binary: LOGISTIC output = P(class 1)
            pred = (p[:, 0] > 0.5).astype(int)
            err = np.abs(p[:, 0] - model.predict_proba(X)[:, 1])
        else:
            pred = p.argmax(axis=1)
            err = np.abs(p - model.predict_proba(X))
        assert err.mean() < 0.02 and err.max() < 0.15, (err.mean(), err.max())
        assert np.mean(pred == model.predict(X)) >= 0.97


def test_tanh_mlp_and_float_io(digits):
    Xtr, Xte, ytr, yte = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", solver="lbfgs", max_iter=150,
                            random_state=1).fit(Xtr, ytr)
    result = convert(clf, Xtr, io_dtype="float32", progress=False)
    out = litert_ref_samples(result.tflite, Xte.astype(np.float32))
    assert out.dtype == np.float32
    assert np.mean(out.argmax(1) == clf.predict(Xte)) >= 0.97


def test_errors_are_clear(digits, digits_mlp):
    Xtr = digits[0]
    with pytest.raises(InputError, match="calibration data"):
        convert(digits_mlp, None)
    with pytest.raises(InputError, match="sample shape"):
        convert(digits_mlp, Xtr[:, :10], progress=False)
    bad = Xtr[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        convert(digits_mlp, bad, progress=False)
    with pytest.raises(InputError, match="empty"):
        convert(digits_mlp, Xtr[:0], progress=False)
    with pytest.raises(ModelError, match="not fitted|not supported"):
        convert(MLPClassifier(), Xtr, progress=False)
    with pytest.raises(ModelError, match="unsupported model type"):
        convert(object(), Xtr, progress=False)


def test_progress_bar_writes_to_stderr(digits, digits_mlp, capsys):
    convert(digits_mlp, digits[0][:50], progress=True, report=False)
    err = capsys.readouterr().err
    assert "calibrating" in err and "50" in err


def test_identical_outputs_in_ember_runtime(digits, digits_mlp):
    Xtr, Xte, _, _ = digits
    result = convert(digits_mlp, Xtr, progress=False, report=False)
    xq = quantize_input(result, Xte[:60])
    want = litert_ref_samples(result.tflite, xq)
    got = ember_outputs(result.tflite, xq)
    np.testing.assert_array_equal(got.reshape(want.shape), want)


def test_progress_bar_falls_back_without_tqdm(digits, digits_mlp, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)      # import tqdm -> ImportError
    convert(digits_mlp, digits[0][:40], progress=True, report=False)
    err = capsys.readouterr().err
    assert "calibrating: [" in err and "100% (40/40)" in err
