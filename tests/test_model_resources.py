"""Resource behaviour of runtime.load / Model.infer: the memory bound on hostile
models, the GIL released while the C executor runs, and zero-copy inputs."""
import sys
import threading

import numpy as np
import pytest

import runtime
from models import conv2d_model
from runtime import InputError, ModelError
from tflite_craft import Spec, T, craft, identity


# ---- memory bound -------------------------------------------------------------------------

def test_default_limit_rejects_a_tiny_file_declaring_a_huge_arena():
    # ~200-byte file whose one activation is 2 GB (the reader's per-tensor cap is 2**31 - 1):
    # load must refuse before allocating, with a message naming the limit.
    data = craft(identity((1, 2_000_000_000)))
    assert len(data) < 1000
    with pytest.raises(ModelError, match=r"needs \d+ bytes .*memory limit of 1073741824 bytes.*max_arena_bytes"):
        runtime.load(data)


def test_limit_counts_all_live_activations():
    # three 400 MB inputs that are also outputs: each tensor is fine alone, together 1.2 GB
    s = Spec(tensors=[T([1, 400_000_000], "int8", scale=[0.5], zero_point=[0], name=f"x{i}") for i in range(3)],
             inputs=[0, 1, 2], outputs=[0, 1, 2])
    with pytest.raises(ModelError, match="memory limit"):
        runtime.load(craft(s))


def test_explicit_limit_is_exact_and_none_disables_it():
    data = craft(identity((1, 4096)))
    assert runtime.load(data).arena_bytes == 4096
    assert runtime.load(data, max_arena_bytes=4096).arena_bytes == 4096
    with pytest.raises(ModelError, match=r"needs 4096 bytes .* limit of 4095 bytes.*max_arena_bytes=4095"):
        runtime.load(data, max_arena_bytes=4095)
    assert runtime.load(data, max_arena_bytes=None).arena_bytes == 4096


def test_limit_includes_scratch_of_real_kernels():
    data = conv2d_model(np.random.default_rng(0), in_shape=(1, 16, 16, 8), out_c=8)
    m = runtime.load(data)
    mem = m.memory
    need = mem["arena_bytes"] + mem["persistent_bytes"]
    assert runtime.load(data, max_arena_bytes=need).arena_bytes == m.arena_bytes
    with pytest.raises(ModelError, match="memory limit"):
        runtime.load(data, max_arena_bytes=need - 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "1GB", True])
def test_limit_argument_is_validated(bad):
    with pytest.raises(InputError, match="max_arena_bytes"):
        runtime.load(craft(identity()), max_arena_bytes=bad)


def test_plan_memory_limit_in_the_binding():
    from runtime import _core

    p = _core.Plan()
    x = p.add_tensor([1, 100], "int8", 0.5, 0)
    p.set_io([x], [x])
    p.set_memory_limit(99)
    with pytest.raises(ModelError, match="needs 112 bytes"):  # 100 rounded up to the arena alignment
        p.finalize()


# ---- GIL ----------------------------------------------------------------------------------

def _progress_during(call, repeats: int) -> list:
    """Counter progress made by another Python thread during each of `repeats` calls.

    The switch interval is set to 5 s (far longer than all the calls of one measurement),
    so the interpreter does not force the main thread to hand over the GIL: the counter
    thread can only run while `call` releases it. Each counter step ends in
    time.sleep(0), which hands the GIL back at once."""
    state = {"n": 0, "stop": False}

    def count():
        while not state["stop"]:
            state["n"] += 1
            time_sleep(0)

    from time import sleep as time_sleep

    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    t = threading.Thread(target=count, daemon=True)
    try:
        t.start()
        progress = []
        for _ in range(repeats):
            before = state["n"]
            call()
            progress.append(state["n"] - before)
        return progress
    finally:
        state["stop"] = True
        sys.setswitchinterval(old)
        t.join(timeout=30)
        assert not t.is_alive()


def test_gil_is_released_during_inference():
    rng = np.random.default_rng(1)
    m = runtime.load(conv2d_model(rng, in_shape=(1, 96, 96, 32), out_c=32))  # a few ms per call
    x = rng.integers(-128, 128, m.inputs[0].shape, dtype=np.int8)
    ints = list(range(100_000, 0, -1))

    # Sentinel: a C call of similar length that keeps the GIL lets the counter make no progress.
    held = _progress_during(lambda: sorted(ints), 10)
    assert sum(held) == 0, held
    # Inference releases the GIL: the counter advances during most calls (typically > 30 of 60).
    released = _progress_during(lambda: m.infer(x), 60)
    assert sum(1 for p in released if p > 0) >= 3, released


# ---- zero-copy inputs ---------------------------------------------------------------------

def test_contiguous_int8_input_is_not_copied():
    m = runtime.load(craft(identity((4, 6), scale=0.1, zero_point=0)))
    x = np.arange(24, dtype=np.int8).reshape(4, 6)
    for call in (lambda: m.infer(x), lambda: m.infer([x]), lambda: m.infer({"x": x})):
        np.testing.assert_array_equal(call(), x)
    assert m._plan.input_copies == 0


def test_non_contiguous_and_misaligned_inputs_are_copied_correctly():
    m = runtime.load(craft(identity((4, 6), scale=0.1, zero_point=0)))
    x = np.arange(24, dtype=np.int8).reshape(4, 6)
    fortran = np.asfortranarray(x)
    strided = np.arange(48, dtype=np.int8).reshape(8, 6)[::2]
    np.testing.assert_array_equal(m.infer(fortran), x)
    np.testing.assert_array_equal(m.infer(strided), strided)
    assert m._plan.input_copies == 2
    np.testing.assert_array_equal(m.infer(np.ascontiguousarray(strided)), strided)
    assert m._plan.input_copies == 2

    m16 = runtime.load(craft(identity((2, 3), dtype="int16", scale=0.1, zero_point=0)))
    raw = np.zeros(13, np.uint8)
    odd = raw[1:].view(np.int16).reshape(2, 3)  # misaligned for int16
    odd[...] = [[1, -2, 3], [300, -400, 32767]]
    aligned = raw[1:].copy().view(np.int16).reshape(2, 3)
    if odd.ctypes.data % 2:
        np.testing.assert_array_equal(m16.infer(odd), aligned)
        assert m16._plan.input_copies == 1


@pytest.mark.parametrize("x, match", [
    (np.zeros((4, 6), np.int16), r"(dtype|expected) int8"),
    (np.zeros((4, 6), np.uint8), r"(dtype|expected) int8"),
    (np.zeros((6, 4), np.int8), "shape"),
    (np.zeros((4, 6, 1), np.int8), "shape"),
])
def test_wrong_inputs_are_rejected_not_converted(x, match):
    m = runtime.load(craft(identity((4, 6), scale=0.1, zero_point=0)))
    with pytest.raises(InputError, match=match):
        m.infer(x)
    with pytest.raises(InputError, match=match):  # the plan itself checks too
        m._plan.run([x])
    assert m._plan.input_copies == 0
