"""JSON readings -> model input values (ServedModel.floats in runtime/core/models.py): plain scalar
features (converted together), windows, mixed forms, and values that are rejected with a reason."""
import numpy as np
import pytest

import runtime
from runtime.core.config import ModelRoute
from runtime.core.models import ServedModel
from runtime.core.payload import BadInput, Reading
from tests.deploy_models import fc_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "fc.tflite"
    p.write_bytes(fc_model())
    return p


def served(path, **route):
    return ServedModel.load(ModelRoute(name="m", path=str(path), **route), runtime.load)


def reference(r, names_f, names_c):
    """What the values must be: each value on its own, float32, concatenated in route order."""
    f, ch = r.f or {}, r.ch or {}
    parts = [f.get(n, ch.get(n)) for n in names_f] + [ch.get(n, f.get(n)) for n in names_c]
    return np.concatenate([np.asarray(p, np.float32).ravel() for p in parts])


def test_plain_scalar_features_equal_one_by_one_conversion(model_path):
    m0 = served(model_path)
    names = [f"f{i}" for i in range(m0.size)]
    m = served(model_path, features=names)
    rng = np.random.default_rng(0)
    for _ in range(20):
        vals = [float(v) if k % 3 else int(v * 1000) for k, v in enumerate(rng.normal(0, 50, m.size))]
        vals[0] = 2**60 + 1                               # an int that float32 must round
        r = Reading(1, 2, f=dict(zip(names, vals)))
        got = m.floats(r)
        assert got.dtype == np.float32
        assert np.array_equal(got, reference(r, names, []))


def test_windows_and_mixed_forms(model_path):
    m0 = served(model_path)
    n = m0.size
    m = served(model_path, features=["a", "b"], channels=["w"])
    r = Reading(1, 2, f={"a": 0.5, "b": [1, 2]}, ch={"w": [0.25] * (n - 3)})
    assert np.array_equal(m.floats(r), reference(r, ["a", "b"], ["w"]))
    m = served(model_path, features=["a"], channels=["w"])
    r = Reading(1, 2, f={"a": True}, ch={"w": [1.5] * (n - 1)})   # a bool counts as a number (1.0)
    assert m.floats(r)[0] == 1.0


@pytest.mark.parametrize("value, kind", [
    ("x", "bad_payload"),
    (10**400, "bad_payload"),          # beyond float range: rejected, not an internal error
    ([1, "x"], "bad_payload"),
    (None, "missing_value"),
], ids=["string", "huge-int", "list-with-string", "null"])
def test_bad_values_are_rejected_with_a_kind(model_path, value, kind):
    m0 = served(model_path)
    names = [f"f{i}" for i in range(m0.size)]
    m = served(model_path, features=names)
    f = {n: 0.0 for n in names}
    f["f1"] = value
    with pytest.raises(BadInput) as e:
        m.floats(Reading(1, 2, f=f))
    assert e.value.kind == kind and str(e.value)


def test_wrong_count_of_values(model_path):
    m = served(model_path, features=["a"])
    with pytest.raises(BadInput) as e:
        m.floats(Reading(1, 2, f={"a": 1.0}))
    assert e.value.kind == "wrong_size"


def test_features_outside_the_fast_path_give_the_same_values(model_path):
    """Features partly in "ch", lists among scalars, lists of equal length: same as one by one."""
    n = served(model_path).size
    names = [f"f{i}" for i in range(n)]
    m = served(model_path, features=names)
    r = Reading(1, 2, f={k: 0.5 for k in names[1:]}, ch={"f0": 1.5})             # f0 only in "ch"
    assert np.array_equal(m.floats(r), reference(r, names, []))
    two = served(model_path, features=["a", "b"])
    half = n // 2
    r = Reading(1, 2, f={"a": [1.0] * half, "b": [2.0] * (n - half)})           # windows as features
    assert np.array_equal(two.floats(r), reference(r, ["a", "b"], []))
    one = served(model_path, features=["a"])
    r = Reading(1, 2, f={"a": list(range(n))})                                   # a single window feature
    assert np.array_equal(one.floats(r), np.arange(n, dtype=np.float32))


def test_latency_percentiles_match_numpy_without_importing_numpy_ma():
    from runtime.core.models import LatencyWindow, percentile
    rng = np.random.default_rng(2)
    for n in (1, 2, 3, 10, 2048):
        v = rng.exponential(0.01, n).tolist()
        s = sorted(v)
        for q in (0, 1, 50, 99, 100):
            assert percentile(s, q) == pytest.approx(float(np.percentile(v, q)), rel=1e-12, abs=1e-15)
        w = LatencyWindow()
        w.add_many(v)
        assert w.percentiles() == pytest.approx((np.percentile(v, 50), np.percentile(v, 99)), rel=1e-12)
    import subprocess
    import sys
    probe = ("import sys; from runtime.core.models import LatencyWindow as W; w = W(); w.add_many([0.1, 0.2]); "
             "w.percentiles(); print('numpy.ma' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"          # np.percentile would pull in numpy.ma (+1.3 MB RSS)


@pytest.mark.parametrize("labels, threshold", [([], 0.5), (["no", "yes"], 0.25)])
def test_interpret_tables_equal_the_numpy_path(model_path, tmp_path, labels, threshold):
    """int8 outputs of small batches go through 256-entry tables: the same results as numpy's path."""
    from tests.deploy_models import fc_model
    rng = np.random.default_rng(4)
    for out_features, zp in ((4, 2), (1, -5), (12, 0)):
        p = tmp_path / f"fc{out_features}.tflite"
        p.write_bytes(fc_model(out_features=out_features, out_zero_point=zp))
        m = served(p, labels=labels, threshold=threshold)
        for k in (1, 3, 11, 12, 40):
            raw = rng.integers(-128, 128, (k, out_features)).astype(np.int8)
            raw[0] = raw[0, 0]                           # ties: the first maximum wins in both paths
            assert m._interpret_int8(raw) == m._interpret_numpy(raw)
            assert m.interpret(raw) == m._interpret_numpy(raw)


def test_run_of_a_batch_one_model_equals_one_infer_per_reading(model_path):
    m = served(model_path)
    assert m.batch == 1 and m._plan_run is not None
    xs = np.random.default_rng(6).integers(-128, 128, (37, m.size)).astype(np.int8)
    want = np.concatenate([np.asarray(m.model.infer(x.reshape(m.in_shape))).reshape(1, -1) for x in xs])
    got = m.run(xs)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.array_equal(m.run(xs[:1]), want[:1])


def test_latency_window_percentiles_while_another_thread_adds():
    import threading
    from runtime.core.models import LatencyWindow
    w = LatencyWindow(64)
    stop = threading.Event()

    def add():
        while not stop.is_set():
            w.add_many((0.001, 0.002, 0.003))
    t = threading.Thread(target=add, daemon=True)
    t.start()
    try:
        for _ in range(5000):
            p50, p99 = w.percentiles()
            assert p50 in (0.0, 0.001, 0.002, 0.003) and 0.0 <= p99 <= 0.003
    finally:
        stop.set()
        t.join(10)
    assert w.percentiles() == (0.002, 0.003)
