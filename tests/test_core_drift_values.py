"""What the core's batch hooks (drift stats, capture) see: each reading's values in its own units,
row-aligned with the int8 model inputs, for JSON readings, float32 and int8 binary readings and
mixed batches (runtime/core/service.py `_process`, models.py `feature_values`/`input_names`/
`classes`), without a broker: `Core._process` on built node messages."""
import json
import time

import numpy as np
import pytest

import runtime
from runtime.core.config import ModelRoute, parse_config
from runtime.core.models import ServedModel
from runtime.core.payload import encode_binary, encode_json
from runtime.core.service import Core
from runtime.core.stats import ModelStats
from tests.deploy_models import fc_model

FEATURES = [f"x{i}" for i in range(8)]
MEAN = [20.0, -3.0, 0.5, 100.0, 0.0, 7.0, -50.0, 1.0]
STD = [2.0, 0.5, 0.1, 10.0, 1.0, 3.0, 4.0, 0.25]


class _Ingest:
    """Takes what the worker hands to the lean ingest connection."""
    generation = 0

    def __init__(self):
        self.results = []

    def submit(self, results, pids, gen):
        self.results.extend(results)

    def resume(self):
        pass


@pytest.fixture
def core(tmp_path):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    cfg = parse_config({"core": {"data_dir": str(tmp_path)}, "broker": {"host": "127.0.0.1"},
                        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES,
                                    "mean": MEAN, "std": STD, "labels": ["a", "b", "c", "d"]}]})
    c = Core(cfg, loader=runtime.load, extensions=False)
    c.load_models()
    c.ingest = _Ingest()
    c.calls = []
    c.on_batch.append(lambda model, nodes, x, raw, dt, values: c.calls.append((nodes, x.copy(), raw.copy(),
                                                                               values.copy())))
    return c


def _item(node, payload, pid):
    return (f"ember/nodes/{node}/data", payload, time.monotonic(), pid, 1, 0)


def _rows(rng, n):
    return np.round(np.array(MEAN) + np.array(STD) * rng.uniform(-2.5, 2.5, (n, 8)), 3)


@pytest.mark.parametrize("form", ["json", "float32", "int8", "mixed"])
def test_hook_values_are_the_readings_in_feature_units(core, form):
    rng = np.random.default_rng(3)
    m = core.models["fc"]
    items, expect, nodes = [], [], []
    seq = 0

    def add_json(node):
        nonlocal seq
        seq += 1
        row = _rows(rng, 1)[0]
        items.append(_item(node, encode_json(seq, seq, f=dict(zip(FEATURES, row.tolist()))), seq))
        expect.append(row.astype(np.float32).astype(np.float64))   # the core reads JSON as float32
        nodes.append(node)

    def add_bad_json(node):             # NaN: rejected, so it has no row in x nor in the values
        nonlocal seq
        seq += 1
        items.append(_item(node, b'{"seq":%d,"t":1,"f":{%s}}' % (seq, ",".join(
            f'"{n}":{"NaN" if i == 2 else 1.0}' for i, n in enumerate(FEATURES)).encode()), seq))

    def add_block(node, kind):
        nonlocal seq
        seqs = list(range(seq + 1, seq + 4))
        seq += 3
        if kind == "float32":
            rows = _rows(rng, 3).astype(np.float32)
            expect.extend(rows.astype(np.float64))
        else:
            rows = rng.integers(-60, 61, (3, 8)).astype(np.int8)
            expect.extend((rows - m.in_zp) * m.in_scale * np.array(STD) + np.array(MEAN))
        items.append(_item(node, encode_binary(seqs, seqs, rows), seq))
        nodes.extend([node] * 3)

    if form == "json":
        for i in range(6):
            add_json(f"n{i % 2}")
            if i == 2:
                add_bad_json("n1")
    elif form in ("float32", "int8"):
        add_block("n0", form)
        add_block("n1", form)
    else:
        add_json("n0")
        add_block("n1", "int8")
        add_bad_json("n0")
        add_json("n1")
        add_block("n0", "float32")
        add_json("n0")
    core._process(items)
    assert len(core.calls) == 1
    got_nodes, x, raw, values = core.calls[0]
    assert got_nodes == nodes and values.dtype == np.float32 and values.shape == x.shape
    np.testing.assert_allclose(values, np.array(expect), rtol=1e-6, atol=1e-5)
    assert np.array_equal(m._quantize(values), x)        # the model input is the quantized value
    assert len(core.ingest.results) == (6 if form == "json" else 2 if form != "mixed" else 5)


def test_feature_values_undo_quantization_and_normalisation(tmp_path):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    m = ServedModel.load(ModelRoute(name="m", path=str(tmp_path / "fc.tflite"), mean=MEAN, std=STD), runtime.load)
    q = np.arange(-128, 128, dtype=np.int8).reshape(-1, 8)
    want = (q.astype(np.float64) - m.in_zp) * m.in_scale * np.array(STD) + np.array(MEAN)
    np.testing.assert_allclose(m.feature_values(q), want, rtol=1e-6, atol=1e-5)
    assert np.array_equal(m._quantize(m.feature_values(q)), q)
    plain = ServedModel.load(ModelRoute(name="m", path=str(tmp_path / "fc.tflite")), runtime.load)
    np.testing.assert_allclose(plain.feature_values(q), (q.astype(np.float64) - m.in_zp) * m.in_scale, rtol=1e-6)


@pytest.mark.parametrize("features,channels,names", [
    (FEATURES, [], FEATURES),
    ([], ["accel"], [f"accel[{i}]" for i in range(8)]),
    (["rms", "peak"], ["accel"], ["rms", "peak"] + [f"accel[{i}]" for i in range(6)]),
    (["rms", "peak", "t"], ["a", "b", "c", "d", "e"], ["rms", "peak", "t", "a", "b", "c", "d", "e"]),
    ([], ["ax", "ay"], [str(i) for i in range(8)]),        # two windows of unknown lengths
    ([], [], [str(i) for i in range(8)]),
])
def test_input_names_follow_the_route(tmp_path, features, channels, names):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=0))
    m = ServedModel.load(ModelRoute(name="m", path=str(tmp_path / "fc.tflite"), features=features,
                                    channels=channels), runtime.load)
    assert m.input_names() == names


@pytest.mark.parametrize("labels,threshold", [([], 0.5), (["no", "yes"], 0.3)])
def test_classes_are_the_result_labels(tmp_path, labels, threshold):
    """The class index the stats count is the label interpret() gives the result, also for a
    single thresholded output (threshold from the route, >=)."""
    for outs, lab in ((4, ["a", "b", "c", "d"]), (1, labels)):
        (tmp_path / "m.tflite").write_bytes(fc_model(8, outs, seed=1))
        m = ServedModel.load(ModelRoute(name="m", path=str(tmp_path / "m.tflite"), labels=lab,
                                        threshold=threshold), runtime.load)
        raw = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1).repeat(outs, axis=1)
        raw = np.ascontiguousarray(np.random.default_rng(0).permuted(raw, axis=0)) if outs > 1 else raw
        results = m.interpret(raw)
        names = m.class_names(outs)
        got = [names[c] for c in m.classes(raw)]
        if outs == 1 and len(lab) < 2:
            want = ["1" if r["outputs"][0] >= threshold else "0" for r in results]
        else:
            want = [r["label"] for r in results]
        assert got == want


def test_grouped_features_are_named_and_averaged():
    s = ModelStats("kws", "1", max_features=4, input_names=[f"m[{i}]" for i in range(10)],
                   class_names=["no", "yes"])
    x = np.random.default_rng(0).normal(0, 1, (50, 10)).astype(np.float32)
    s.record(x, np.zeros((50, 2)), 0.001, classes=np.r_[np.zeros(20, int), np.ones(30, int)])
    inp = s.snapshot()["window"]["input"]
    # ceil(10 / 4) = 3 values per group: [0:3], [3:6], [6:9], [9:10]
    assert inp["names"] == ["m[0]..m[2]", "m[3]..m[5]", "m[6]..m[8]", "m[9]"]
    g = np.stack([x[:, 0:3].mean(1), x[:, 3:6].mean(1), x[:, 6:9].mean(1), x[:, 9]], axis=1).astype(np.float64)
    np.testing.assert_allclose(inp["mean"], g.mean(0), atol=1e-6)
    np.testing.assert_allclose(inp["std"], g.std(0, ddof=1), atol=1e-6)
    snap = s.snapshot(reset_window=True)
    assert snap["window"]["classes"] == {"no": 20, "yes": 30}
    assert snap["window"]["latency_ms"]["p50"] == pytest.approx(1.0, rel=0.03)   # one per request
    assert s.snapshot()["window"]["classes"] == {}
    json.dumps(snap)
