"""`ember inspect` / `ember infer` on the MLPerf Tiny models: per-layer MACs from the
layer shapes, the arena of the loaded model, `--input file.npy` = Model.infer."""
import json

import numpy as np
import pytest

import runtime
from real_models import KWS, VWW, model_bytes
from runtime.cli import main


def expected_macs(layer) -> int:
    """MACs from the TFLite shapes alone: conv kh*kw*cin, depthwise kh*kw, FC depth, pool window."""
    out = int(np.prod(layer["outputs"][0]))
    op, ins = layer["op"], layer["inputs"]
    if op == "CONV_2D":
        _, kh, kw, cin = ins[1]
        return out * kh * kw * cin
    if op == "DEPTHWISE_CONV_2D":
        return out * ins[1][1] * ins[1][2]
    if op == "FULLY_CONNECTED":
        return out * ins[1][-1]
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        (_, h, w, _), (_, oh, ow, _) = ins[0], layer["outputs"][0]
        return out * (h // oh) * (w // ow)  # both models pool non-overlapping windows
    if op == "SOFTMAX":
        return out
    return 0


@pytest.mark.parametrize("path, total", [(KWS, 2_664_780), (VWW, 7_491_970)])
def test_inspect_macs_and_arena(capsys, path, total):
    model_bytes(path)  # skips when the shared models are absent
    assert main(["inspect", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for layer in doc["layers"]:
        want = expected_macs(layer)
        assert layer["macs"] == want, layer
    assert sum(layer["macs"] for layer in doc["layers"]) == doc["total_macs"] == total
    m = runtime.load(str(path))
    assert doc["arena_bytes"] == m.arena_bytes == doc["memory"]["arena_bytes"]
    assert m.arena_bytes < doc["memory"]["naive_activation_bytes"] + doc["memory"]["scratch_bytes"]
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"MACs: {total:,}" in text and f"arena: {m.arena_bytes:,} B" in text
    assert text.count("CONV_2D") >= 5


def test_infer_input_file_matches_model_infer(capsys, tmp_path):
    model_bytes(KWS)
    m = runtime.load(str(KWS))
    x = np.random.default_rng(5).integers(-128, 128, m.inputs[0].shape, dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    assert main(["infer", str(KWS), "--input", str(tmp_path / "x.npy"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (name, y), = doc["outputs"].items()
    assert name == m.outputs[0].name and doc["arena_bytes"] == m.arena_bytes
    want = m.infer(x)
    assert y["shape"] == list(want.shape) and y["dtype"] == "int8"
    got = np.asarray(y["data"], np.int8).reshape(want.shape)
    np.testing.assert_array_equal(got, want)
