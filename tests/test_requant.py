"""The Python requantization mirror (runtime/quant.py) against the same
hand-derived table the C helpers are tested with (tests/c/requant_cases.h,
parsed here), plus independent exact-arithmetic references."""
from __future__ import annotations

import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import quant

CASES_H = Path(__file__).parent / "c" / "requant_cases.h"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _table():
    text = CASES_H.read_text()
    rows = re.findall(r"X\((srdhm|rdbpot|mbqm),\s*(-?\d+),\s*(-?\d+),\s*(-?\d+),\s*(-?\d+)\)", text)
    return [(fn, int(a), int(b), int(c), int(w)) for fn, a, b, c, w in rows]


TABLE = _table()


def test_table_parsed():
    assert len(TABLE) >= 50
    assert {fn for fn, *_ in TABLE} == {"srdhm", "rdbpot", "mbqm"}


def _call(fn, a, b, c):
    if fn == "srdhm":
        return quant.srdhm(a, b)
    if fn == "rdbpot":
        return quant.rdbpot(a, b)
    return quant.mbqm(a, b, c)


@pytest.mark.parametrize("fn,a,b,c,want", TABLE)
def test_table_case(fn, a, b, c, want):
    assert _call(fn, a, b, c) == want


# Independent formulations (exact integer arithmetic, Python's floor division).
def ref_srdhm(a, b):
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    return (a * b + (1 << 30)) // (1 << 31)


def ref_rdbpot(x, e):
    if e == 0:
        return x
    q = (abs(x) + (1 << (e - 1))) >> e
    return -q if x < 0 else q


def ref_mbqm(x, m, s):
    left, right = max(s, 0), max(-s, 0)
    shifted = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)
    return ref_rdbpot(ref_srdhm(shifted, m), right)


EDGES = [INT32_MIN, INT32_MIN + 1, -(2**30) - 1, -(2**30), -(2**30) + 1, -255, -128, -3, -2, -1, 0, 1, 2, 3,
         127, 255, 2**30 - 1, 2**30, 2**30 + 1, INT32_MAX - 1, INT32_MAX]


def test_edges_against_reference():
    for a in EDGES:
        for e in range(32):
            assert quant.rdbpot(a, e) == ref_rdbpot(a, e), (a, e)
        for b in EDGES:
            assert quant.srdhm(a, b) == ref_srdhm(a, b), (a, b)
            if b >= 0:
                for s in (-31, -30, -17, -1, 0, 1, 2, 17, 29, 30):
                    assert quant.mbqm(a, b, s) == ref_mbqm(a, b, s), (a, b, s)


def test_random_against_reference():
    rng = random.Random(1234)
    for _ in range(8000):
        a = rng.randint(INT32_MIN, INT32_MAX)
        b = rng.randint(INT32_MIN, INT32_MAX)
        m = rng.randint(0, INT32_MAX)
        s = rng.randint(-31, 30)
        e = rng.randint(0, 31)
        assert quant.srdhm(a, b) == ref_srdhm(a, b)
        assert quant.rdbpot(a, e) == ref_rdbpot(a, e)
        assert quant.mbqm(a, m, s) == ref_mbqm(a, m, s)


@settings(max_examples=300, deadline=None)
@given(st.integers(INT32_MIN, INT32_MAX), st.integers(0, INT32_MAX), st.integers(-31, 30))
def test_mbqm_property(x, m, s):
    assert quant.mbqm(x, m, s) == ref_mbqm(x, m, s)


# quantize_multiplier: the same hand-derived values as tests/c/test_requant.c.
QM_CASES = [
    (0.0, 0, 0),
    (0.5, 2**30, 0),
    (1.0, 2**30, 1),
    (0.25, 2**30, -1),
    (0.75, 1610612736, 0),
    (1.0 - 2.0**-33, 2**30, 1),  # rounds up to 2^31: halved, shift + 1
    (0.5 - 2.0**-34, 2**30, 0),
    (1.0 - 2.0**-31, 2**31 - 1, 0),
    (0.5 + 2.0**-32, 2**30 + 1, 0),  # tie rounds away from zero
    (0.5 + 2.0**-33, 2**30, 0),
    (2.0**-32, 2**30, -31),
    (2.0**-33, 0, 0),  # flushed to zero
    (2.0**-40, 0, 0),
    (2.0**29, 2**30, 30),
    (2.0**30 - 1.0, 2**31 - 2, 30),
]


@pytest.mark.parametrize("real,m,s", QM_CASES)
def test_quantize_multiplier_cases(real, m, s):
    assert quant.quantize_multiplier(real) == (m, s)


@pytest.mark.parametrize("bad", [2.0**30, -0.5, float("nan"), float("inf")])
def test_quantize_multiplier_rejects(bad):
    with pytest.raises(ValueError):
        quant.quantize_multiplier(bad)


def test_quantize_multiplier_round_trip():
    rng = random.Random(7)
    for _ in range(8000):
        real = math.ldexp(rng.random() + 1e-9, rng.randint(-35, 14))
        m, s = quant.quantize_multiplier(real)
        if m == 0:
            assert real < 2.0**-32
            continue
        assert 2**30 <= m < 2**31
        assert abs(math.ldexp(m, s - 31) - real) <= math.ldexp(1.0, s - 32)


# ---- the Python mirror against the C helpers themselves (runtime._core) ---------------------
def _core():
    from runtime import _core as core

    return core


@pytest.mark.parametrize("fn,a,b,c,want", TABLE)
def test_table_case_in_c(fn, a, b, c, want):
    core = _core()
    arr = lambda v: np.array([v], np.int32)  # noqa: E731
    if fn == "srdhm":
        got = core.srdhm(arr(a), arr(b))
    elif fn == "rdbpot":
        got = core.rdbpot(arr(a), arr(b))
    else:
        got = core.mbqm(arr(a), arr(b), arr(c))
    assert int(got[0]) == want


def test_python_mirror_equals_c_on_random_and_edge_values():
    core = _core()
    rng = np.random.default_rng(42)
    n = 8000
    edges = np.array(EDGES, np.int64)
    a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True), np.repeat(edges, len(EDGES))])
    b = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True), np.tile(edges, len(EDGES))])
    m = np.abs(b) % (1 << 31)
    s = rng.integers(-31, 31, a.size)
    e = rng.integers(0, 32, a.size)
    c_srdhm = core.srdhm(a.astype(np.int32), b.astype(np.int32))
    c_rdbpot = core.rdbpot(a.astype(np.int32), e.astype(np.int32))
    c_mbqm = core.mbqm(a.astype(np.int32), m.astype(np.int32), s.astype(np.int32))
    for i in range(a.size):
        ai, bi, mi, si, ei = int(a[i]), int(b[i]), int(m[i]), int(s[i]), int(e[i])
        assert quant.srdhm(ai, bi) == int(c_srdhm[i]), (ai, bi)
        assert quant.rdbpot(ai, ei) == int(c_rdbpot[i]), (ai, ei)
        assert quant.mbqm(ai, mi, si) == int(c_mbqm[i]), (ai, mi, si)


def test_quantize_multiplier_python_equals_c():
    core = _core()
    rng = random.Random(3)
    reals = [r for r, _, _ in QM_CASES] + [math.ldexp(rng.random() + 1e-12, rng.randint(-40, 29)) for _ in range(5000)]
    for real in reals:
        assert quant.quantize_multiplier(real) == tuple(core.quantize_multiplier(real)), real
    for bad in (2.0**30, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            core.quantize_multiplier(bad)


# ---- fused activation ranges: TFLite quantizes the clamp bounds in float32 ------------------
@pytest.mark.parametrize("act,scale,zp,want", [
    ("NONE", 0.1, 0, (-128, 127)),
    ("RELU", 0.1, -5, (-5, 127)),
    ("RELU6", 0.1, -128, (-128, -68)),
    ("RELU6", 0.01, 0, (0, 127)),
    ("RELU_N1_TO_1", 0.01, 3, (-97, 103)),
    ("RELU_N1_TO_1", 0.004, 0, (-128, 127)),
    ("RELU6", 0.04428044334053993, -128, (-128, 8)),   # 6/s = 135.5 in float32 (135.49999 in double)
    ("RELU6", 0.07547169923782349, -128, (-128, -48)),
    ("RELU6", 0.04210526496171951, -128, (-128, 15)),
])
def test_activation_range(act, scale, zp, want):
    assert quant.activation_range(act, scale, zp) == want
