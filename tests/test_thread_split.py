"""Splitting decisions (ember_threadpool_tasks, csrc/include/ember/threadpool.h):
an op whose work is below the threshold runs inline on the caller, one above
it is cut into tasks. Either way the bytes must not change: for every ISA this
CPU runs, layers on both sides of the threshold give the same output on 1, 2
and 3 threads, equal to LiteRT BUILTIN_REF. The shapes are chosen from the
constants in the header, so they stay on their side when the tuning changes."""
import re
from pathlib import Path

import numpy as np
import pytest

import runtime
from nn_models import conv, depthwise, fully_connected, pool, random_inputs
from oracle import litert_ref
from runtime import _core

ROOT = Path(__file__).resolve().parents[1]
ISAS = _core.available_isas()


def _constants():
    text = (ROOT / "csrc/include/ember/threadpool.h").read_text()
    return {name: int(value) for name, value in re.findall(r"#define (EMBER_\w+_WORK) (\d+)", text)}


K = _constants()
SPLIT_AT = 2 * K["EMBER_MIN_TASK_WORK"]  # below: inline; from here on: at least 2 tasks


def _work(kind, isa, shape_work):
    scalar = isa == "scalar"
    if kind == "dw":
        return shape_work * K["EMBER_DW_MAC_WORK"] * (K["EMBER_SCALAR_MAC_WORK"] if scalar else 1)
    if kind == "pool":
        return shape_work * K["EMBER_BYTE_OP_WORK"]
    return shape_work * (K["EMBER_SCALAR_MAC_WORK"] if scalar else 1)


# (name, kind, builder, MACs or pooling taps, below the threshold on (SIMD, scalar) paths?)
# The scalar kernels count more work per MAC.
CASES = [
    ("dw_2x2x8_tiny", "dw", lambda r: depthwise(r, in_shape=(1, 2, 2, 8)), 2 * 2 * 8 * 9, (True, True)),
    ("dw_6x6x128_small", "dw", lambda r: depthwise(r, in_shape=(1, 6, 6, 128)), 6 * 6 * 128 * 9, (True, False)),
    ("dw_3x3x256_small", "dw", lambda r: depthwise(r, in_shape=(1, 3, 3, 256)), 3 * 3 * 256 * 9, (True, False)),
    ("dw_24x24x64_large", "dw", lambda r: depthwise(r, in_shape=(1, 24, 24, 64)), 24 * 24 * 64 * 9, (False, False)),
    ("conv_6x6x8_small", "conv", lambda r: conv(r, in_shape=(1, 6, 6, 8), out_c=16), 36 * 72 * 16, (True, False)),
    ("conv_12x12x32_large", "conv", lambda r: conv(r, in_shape=(1, 12, 12, 32), out_c=64), 144 * 288 * 64, (False, False)),
    ("fc_256x2_small", "conv", lambda r: fully_connected(r, in_shape=(1, 256), units=2), 256 * 2, (True, True)),
    ("fc_1024x512_large", "conv", lambda r: fully_connected(r, in_shape=(1, 1024), units=512), 1024 * 512, (False, False)),
    ("avgpool_3x3x256_small", "pool",
     lambda r: pool(r, in_shape=(1, 3, 3, 256), k=(3, 3), stride=(1, 1)), 256 * 9, (True, True)),
    ("maxpool_48x48x32_large", "pool",
     lambda r: pool(r, "MAX_POOL_2D", in_shape=(1, 48, 48, 32), k=(2, 2), stride=(2, 2)), 24 * 24 * 32 * 4, (False, False)),
]


@pytest.fixture
def restore_isa():
    before = _core.isa()
    yield
    _core.set_isa(before)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name,kind,build,shape_work,small", CASES, ids=[c[0] for c in CASES])
def test_split_or_inline_gives_same_bytes(name, kind, build, shape_work, small, isa, restore_isa):
    work = _work(kind, isa, shape_work)
    small = small[1] if isa == "scalar" else small[0]
    if small:
        assert work < SPLIT_AT, f"{name} ({isa}) is meant to run inline: {work} work units"
    else:
        # at least 3 tasks of EMBER_MIN_TASK_WORK: 2 tasks on 2 threads, 3 on 3
        assert work >= 3 * K["EMBER_MIN_TASK_WORK"], f"{name} ({isa}) is meant to be split: {work} work units"
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    data = build(rng)
    _core.set_isa(isa)
    models = {t: runtime.load(data, num_threads=t) for t in (1, 2, 3)}
    shape = tuple(models[1].inputs[0].shape)
    for x in random_inputs(rng, shape, 2):
        (want,) = litert_ref(data, [x])
        for t, m in models.items():
            got = m.infer(x)
            diff = int(np.count_nonzero(got != want))
            assert diff == 0, f"{name} {isa} x{t}: {diff} of {want.size} bytes differ from BUILTIN_REF"
