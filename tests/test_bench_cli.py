"""`ember bench` (runtime/commands/bench.py) on small generated models: JSON report,
per-layer breakdown, peers and ratios with --compare, --isa/--threads, and errors."""
import json

import numpy as np
import pytest

from models import conv2d_model, depthwise_conv2d_model
from runtime import _core
from runtime.cli import main


@pytest.fixture
def conv_path(tmp_path):
    p = tmp_path / "conv.tflite"
    p.write_bytes(conv2d_model(np.random.default_rng(3), in_shape=(1, 12, 12, 8), out_c=16))
    return str(p)


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_report_has_latency_and_layers(capsys, conv_path):
    rc, out, err = run_cli(capsys, "bench", conv_path, "--runs", "5", "--warmup", "1", "--threads", "1", "2",
                           "--json")
    assert rc == 0, err
    report = json.loads(out)
    assert report["isa"] == _core.isa() and report["macs"] == 12 * 12 * 16 * 9 * 8
    assert [c["threads"] for c in report["configs"]] == [1, 2]
    for cfg in report["configs"]:
        lat = cfg["latency"]["ember"]
        assert lat["runs"] == 5 and 0 < lat["min_us"] <= lat["median_us"] <= lat["p90_us"]
        (layer,) = cfg["layers"]
        assert layer["op"] == "CONV_2D" and layer["macs"] == report["macs"] and layer["us"] > 0
        assert layer["gmacs"] > 0


def test_compare_runs_litert_and_prints_ratios(capsys, conv_path):
    pytest.importorskip("ai_edge_litert")
    rc, out, err = run_cli(capsys, "bench", conv_path, "--runs", "3", "--warmup", "1", "--compare", "--json")
    assert rc == 0, err
    cfg = json.loads(out)["configs"][0]
    assert {"ember", "litert_xnnpack", "litert_ref"} <= set(cfg["latency"])
    assert set(cfg["ratios"]) >= {"litert_xnnpack", "litert_ref"} and all(r > 0 for r in cfg["ratios"].values())
    rc, out, _ = run_cli(capsys, "bench", conv_path, "--runs", "3", "--warmup", "0", "--compare")
    assert rc == 0 and "litert_xnnpack" in out and "ratio" in out and "GMAC/s" in out


@pytest.mark.parametrize("isa", _core.available_isas())
def test_isa_option_forces_the_path_and_is_restored(capsys, tmp_path, isa):
    p = tmp_path / "dw.tflite"
    p.write_bytes(depthwise_conv2d_model(np.random.default_rng(4), in_shape=(1, 9, 9, 24)))
    before = _core.isa()
    rc, out, err = run_cli(capsys, "bench", str(p), "--runs", "2", "--warmup", "0", "--isa", isa, "--json",
                           "--no-layers")
    assert rc == 0, err
    report = json.loads(out)
    assert report["isa"] == isa and report["configs"][0]["layers"] is None
    assert _core.isa() == before


def test_plot(capsys, conv_path, tmp_path):
    png = tmp_path / "layers.png"
    rc, _, err = run_cli(capsys, "bench", conv_path, "--runs", "2", "--warmup", "0", "--plot", str(png))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert rc == 1 and "--plot needs matplotlib" in err
        return
    assert rc == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, match", [
    (["--isa", "avx512"], "unknown ISA 'avx512'"),
    (["--threads", "0"], "--threads values must be in"),
    (["--runs", "0"], "--runs must be >= 1"),
])
def test_bad_options(capsys, conv_path, argv, match):
    rc, _, err = run_cli(capsys, "bench", conv_path, *argv)
    assert rc == 1 and match in err


def test_missing_model(capsys, tmp_path):
    rc, _, err = run_cli(capsys, "bench", str(tmp_path / "nope.tflite"))
    assert rc == 1 and "does not exist" in err


def test_compare_with_onnxruntime(capsys, conv_path, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.INT8, [1, 12, 12, 8])
    y = helper.make_tensor_value_info("y", TensorProto.INT8, [1, 12, 12, 8])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "id.onnx"
    onnx.save(model, str(path))
    assert ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rc, out, err = run_cli(capsys, "bench", conv_path, "--runs", "3", "--warmup", "1", "--compare", "--onnx",
                           str(path), "--json", "--no-layers")
    assert rc == 0, err
    cfg = json.loads(out)["configs"][0]
    assert "onnxruntime" in cfg["latency"] and cfg["ratios"]["onnxruntime"] > 0
    assert "onnxruntime" not in cfg["peers_missing"]
    rc, _, err = run_cli(capsys, "bench", conv_path, "--compare", "--onnx", str(tmp_path / "missing.onnx"))
    assert rc == 1 and "does not exist" in err
