"""Graph building + plan over real executor ops: a chain shares memory and matches LiteRT."""
import numpy as np
import pytest

import runtime
from oracle import litert_ref
from runtime.errors import ModelError
from runtime.ops import load_all
from runtime.tflite.writer import ModelBuilder


def chain_model(n=64):
    """x -> LOGISTIC -> TANH -> LOGISTIC -> TANH -> y (all int8 [1, n])."""
    mb = ModelBuilder()
    qs = [(0.05, 3), (1.0 / 256, -128), (1.0 / 128, 0), (1.0 / 256, -128), (1.0 / 128, 0)]
    ts = [mb.add_tensor(f"t{i}", (1, n), "int8", scale=s, zero_point=z) for i, (s, z) in enumerate(qs)]
    for i, op in enumerate(["LOGISTIC", "TANH", "LOGISTIC", "TANH"]):
        mb.add_operator(op, [ts[i]], [ts[i + 1]])
    mb.set_io([ts[0]], [ts[-1]])
    return mb.build()


def need(*ops):
    missing = sorted(set(ops) - set(load_all()))
    if missing:
        pytest.skip(f"no builder yet for {', '.join(missing)}")


def test_chain_matches_oracle_and_reuses_memory():
    need("LOGISTIC", "TANH")
    data = chain_model(64)
    m = runtime.load(data)
    assert [l.op for l in m.layers] == ["LOGISTIC", "TANH", "LOGISTIC", "TANH"]
    assert m.memory["naive_activation_bytes"] == 5 * 64
    assert m.memory["activation_bytes"] == 2 * 64  # only producer and consumer are ever live together
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(-128, 128, (1, 64), dtype=np.int8)
        np.testing.assert_array_equal(m.infer(x), litert_ref(data, [x])[0])


def test_builder_failure_is_a_model_error(monkeypatch):
    need("LOGISTIC")
    builders = load_all()

    def broken(op):
        raise KeyError("oops")

    monkeypatch.setitem(builders, "LOGISTIC", broken)
    with pytest.raises(ModelError, match=r"operator 0 \(LOGISTIC\): builder failed: KeyError"):
        runtime.load(chain_model())


def test_builder_emitting_nothing_or_bad_params(monkeypatch):
    need("LOGISTIC")
    builders = load_all()
    monkeypatch.setitem(builders, "LOGISTIC", lambda op: None)
    with pytest.raises(ModelError, match="emitted no executor op"):
        runtime.load(chain_model())

    def float_param(op):
        op.emit("LOGISTIC", [op.inputs[0]], [op.outputs[0]], {"x": 1.5})

    monkeypatch.setitem(builders, "LOGISTIC", float_param)
    with pytest.raises(ModelError, match="not an integer"):
        runtime.load(chain_model())

    def unknown_param(op):
        from runtime import _core

        params = {name: 0 for name in _core.ops()["LOGISTIC"]}
        params["bogus"] = 1
        op.emit("LOGISTIC", [op.inputs[0]], [op.outputs[0]], params)

    monkeypatch.setitem(builders, "LOGISTIC", unknown_param)
    with pytest.raises(ModelError, match="unknown parameter 'bogus'"):
        runtime.load(chain_model())

    def missing_param(op):
        op.emit("LOGISTIC", [op.inputs[0]], [op.outputs[0]], {})

    monkeypatch.setitem(builders, "LOGISTIC", missing_param)
    from runtime import _core

    if _core.ops()["LOGISTIC"]:
        with pytest.raises(ModelError, match="missing parameter"):
            runtime.load(chain_model())
