"""`ember infer` and `ember inspect` (runtime/cli.py, runtime/commands/)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from runtime.cli import main
from tflite_craft import B, Spec, T, craft, identity


@pytest.fixture
def model_path(tmp_path):
    p = tmp_path / "id.tflite"
    p.write_bytes(craft(identity((1, 6), scale=0.5, zero_point=3)))
    return str(p)


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_infer_random_input_is_seeded(capsys, model_path):
    rc, out, _ = run_cli(capsys, "infer", model_path, "--json", "--seed", "3")
    assert rc == 0
    doc = json.loads(out)
    y = doc["outputs"]["x"]
    assert y["shape"] == [1, 6] and y["dtype"] == "int8"
    rc, out2, _ = run_cli(capsys, "infer", model_path, "--json", "--seed", "3")
    assert json.loads(out2)["outputs"] == doc["outputs"]
    assert doc["arena_bytes"] == 16 and doc["isa"]


def test_infer_with_input_file(capsys, tmp_path, model_path):
    x = np.array([[1, 2, 3, -4, 5, 100]], np.int8)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run_cli(capsys, "infer", model_path, "--input", str(tmp_path / "x.npy"), "--json")
    assert rc == 0 and json.loads(out)["outputs"]["x"]["data"] == x.tolist()
    rc, out, _ = run_cli(capsys, "infer", model_path, "--input", str(tmp_path / "x.npy"))
    assert rc == 0 and "x: int8[1, 6]" in out and "argmax: 5" in out


def test_infer_float(capsys, tmp_path, model_path):
    np.save(tmp_path / "f.npy", np.array([[0.0, 0.5, 1.0, -1.0, 2.0, 3.0]], np.float32))
    rc, out, _ = run_cli(capsys, "infer", model_path, "--input", str(tmp_path / "f.npy"), "--float", "--json")
    assert rc == 0
    assert json.loads(out)["outputs"]["x"]["data"] == [[0.0, 0.5, 1.0, -1.0, 2.0, 3.0]]


def test_infer_npz_by_name(capsys, tmp_path):
    s = Spec(tensors=[T([1, 2], scale=[1.0], zero_point=[0], name="a"), T([1, 3], scale=[1.0], zero_point=[0], name="b")],
             inputs=[0, 1], outputs=[1, 0])
    path = tmp_path / "two.tflite"
    path.write_bytes(craft(s))
    np.savez(tmp_path / "in.npz", a=np.array([[1, 2]], np.int8), b=np.array([[3, 4, 5]], np.int8))
    rc, out, _ = run_cli(capsys, "infer", str(path), "-i", str(tmp_path / "in.npz"), "--json")
    assert rc == 0
    outs = json.loads(out)["outputs"]
    assert outs["a"]["data"] == [[1, 2]] and outs["b"]["data"] == [[3, 4, 5]]


@pytest.mark.parametrize("setup, match", [
    ("missing_model", "cannot read model file"),
    ("bad_model", "not a TFLite model"),
    ("missing_input", "does not exist"),
    ("wrong_dtype", "must have dtype int8, got float64"),
    ("bad_npy", "cannot read input file"),
])
def test_infer_errors(capsys, tmp_path, model_path, setup, match):
    args = ["infer", model_path]
    if setup == "missing_model":
        args = ["infer", str(tmp_path / "nope.tflite")]
    elif setup == "bad_model":
        (tmp_path / "bad.tflite").write_bytes(b"garbage" * 10)
        args = ["infer", str(tmp_path / "bad.tflite")]
    elif setup == "missing_input":
        args += ["--input", str(tmp_path / "nope.npy")]
    elif setup == "wrong_dtype":
        np.save(tmp_path / "x.npy", np.zeros((1, 6)))
        args += ["--input", str(tmp_path / "x.npy")]
    elif setup == "bad_npy":
        (tmp_path / "x.npy").write_bytes(b"not numpy")
        args += ["--input", str(tmp_path / "x.npy")]
    rc, out, err = run_cli(capsys, *args)
    assert rc == 1 and out == ""
    assert err.startswith("ember: error: ") and match in err and "Traceback" not in err


def test_inspect_table_and_json(capsys, model_path):
    rc, out, _ = run_cli(capsys, "inspect", model_path)
    assert rc == 0
    assert "MACs" in out and "arena: 16 B" in out and "input  x: int8[1, 6] scale=0.5 zero_point=3" in out
    rc, out, _ = run_cli(capsys, "inspect", model_path, "--json")
    doc = json.loads(out)
    assert doc["arena_bytes"] == 16 and doc["layers"] == [] and doc["inputs"][0]["shape"] == [1, 6]


def test_no_command_prints_help(capsys):
    rc, _, err = run_cli(capsys)
    assert rc == 2 and "COMMAND" in err


def test_module_entry_point(model_path):
    r = subprocess.run([sys.executable, "-m", "runtime.cli", "inspect", model_path, "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["arena_bytes"] == 16
