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


def _logistic_graph(ops, inputs=(0,), outputs=(2,)):
    """Tensors: 0 input int8[1,8]; 1, 2, 3 LOGISTIC-style outputs. ops: (in, out) pairs of LOGISTIC (code 14)."""
    from tflite_craft import Op, Spec, T, craft

    q_in = dict(scale=[0.05], zero_point=[3])
    q_out = dict(scale=[1.0 / 256], zero_point=[-128])
    tensors = [T([1, 8], name="x", **q_in)] + [T([1, 8], name=f"t{i}", **q_out) for i in (1, 2, 3)]
    return craft(Spec(tensors=tensors, inputs=list(inputs), outputs=list(outputs),
                      operators=[Op(0, [i], [o]) for i, o in ops], opcodes=[14]))


@pytest.mark.parametrize("ops, outputs, match", [
    ([(0, 1), (1, 2)], (2,), None),
    ([(1, 2), (0, 1)], (2,), r"operator 0 \(LOGISTIC\): input 0 reads tensor 1 't1' int8\[1, 8\] before any "
                             r"operator writes it"),
    ([(0, 1), (0, 1)], (1,), r"operator 1 \(LOGISTIC\): output tensor 1 't1' .* is already written by operator 0"),
    ([(0, 1), (1, 2)], (3,), r"model output tensor 3 't3' int8\[1, 8\] is never written"),
    ([(0, 1), (1, 1)], (1,), r"operator 1 \(LOGISTIC\): tensor 1 't1' .* is both input and output"),
    ([(1, 0)], (0,), r"input 0 reads tensor 1"),
    ([(0, 1), (1, 0)], (0,), r"output tensor 0 'x' .* is already a model input"),
])
def test_graph_structure_errors(ops, outputs, match):
    need("LOGISTIC")
    data = _logistic_graph(ops, outputs=outputs)
    if match is None:
        m = runtime.load(data)
        x = np.arange(-4, 4, dtype=np.int8).reshape(1, 8)
        np.testing.assert_array_equal(m.infer(x), litert_ref(data, [x])[0])
        return
    with pytest.raises(ModelError, match=match):
        runtime.load(data)


def test_c_prepare_errors_name_the_tflite_operator(monkeypatch):
    need("LOGISTIC", "TANH")
    builders = load_all()

    def tanh_without_table(op):  # the adapter needs the [in_scale, out_scale] input
        op.emit("TANH", [op.inputs[0]], [op.outputs[0]], {"input_zero_point": 0, "output_zero_point": 0})

    monkeypatch.setitem(builders, "TANH", tanh_without_table)
    with pytest.raises(ModelError, match=r"^operator 1 \(TANH\): finalize: op 1 \(TANH\): "):
        runtime.load(chain_model())


def test_constants_are_not_copied_and_unused_ones_not_added():
    from real_models import KWS, model_bytes
    from runtime.graph import Graph
    from runtime.tflite.reader import read_model

    data = model_bytes(KWS)
    model = read_model(data, supported_ops=load_all())
    missing = {op.name for op in model.operators} - set(load_all())
    if missing:
        pytest.skip(f"no builder yet for {sorted(missing)}")
    graph = Graph(model)
    graph.build()
    plan = graph.to_plan(1)
    file_base = np.frombuffer(data, np.uint8).ctypes.data
    checked = 0
    for tid, pid in graph.plan_ids.items():
        t = graph.tensors[tid]
        info = plan.tensor_info(pid)
        assert info["is_const"] == t.is_const and tuple(info["shape"]) == t.shape
        if t.is_const and tid < len(model.tensors) and t.data.ctypes.data % t.data.itemsize == 0:
            # a file constant: the plan points into the model bytes themselves
            assert info["address"] == t.data.ctypes.data
            assert file_base <= info["address"] < file_base + len(data)
            checked += 1
    assert checked > 0
    used = {tid for e in graph.ops for tid in (t.id for t in e.inputs + e.outputs if t is not None)}
    used |= set(model.inputs) | set(model.outputs)
    assert set(graph.plan_ids) == used
