"""Mutated real model bytes must load cleanly or raise ModelError: never crash or hang.

A bounded, seeded set of mutations (byte flips, hostile int32 values at aligned
positions, truncations, inserted junk) of the two MLPerf Tiny models. Models
that still load are also run once, which exercises the C prepare/run checks."""
import os
import struct

import numpy as np
import pytest

import runtime
from runtime.errors import ModelError
from real_models import KWS, VWW, model_bytes

N_MUTATIONS = int(os.environ.get("EMBER_FUZZ_N", "120"))  # raise for a deeper local run
HOSTILE = [0, 1, -1, 2**31 - 1, -(2**31), 2**16, 0xFFFF, 255, 128, -128, 3, 1 << 24]


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    kind = rng.integers(0, 4)
    if kind == 0:  # flip a few random bytes
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
    elif kind == 1:  # hostile 32-bit value at an aligned position in the first part (tables live there)
        pos = int(rng.integers(0, (len(b) - 4) // 4)) * 4
        struct.pack_into("<i", b, pos, HOSTILE[int(rng.integers(0, len(HOSTILE)))])
    elif kind == 2:  # truncate
        del b[int(rng.integers(0, len(b))):]
    else:  # insert junk
        pos = int(rng.integers(0, len(b)))
        b[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    return bytes(b)


def check(data: bytes) -> str:
    try:
        m = runtime.load(data)
    except ModelError:
        return "rejected"
    xs = [np.zeros(s.shape, s.dtype) for s in m.inputs]
    try:
        m.infer(xs)
    except runtime.RuntimeFailure:
        return "run failed cleanly"
    return "ok"


@pytest.mark.parametrize("path", [KWS, VWW], ids=["kws", "vww"])
def test_mutated_models_never_crash(path):
    data = model_bytes(path)
    rng = np.random.default_rng(20261123)
    outcomes = {}
    for _ in range(N_MUTATIONS):
        r = check(mutate(data, rng))
        outcomes[r] = outcomes.get(r, 0) + 1
    assert sum(outcomes.values()) == N_MUTATIONS
    assert outcomes.get("rejected", 0) > 0  # the mutations do reach the validators


def test_random_bytes_are_rejected():
    rng = np.random.default_rng(7)
    for n in (0, 3, 8, 16, 64, 1000, 5000):
        junk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        with pytest.raises(ModelError):
            runtime.load(junk)
        with pytest.raises(ModelError):
            runtime.load(junk[:4] + b"TFL3" + junk[8:])
