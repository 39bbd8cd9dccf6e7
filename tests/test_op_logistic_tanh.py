"""LOGISTIC and TANH int8 (LiteRT's float-built lookup table) vs BUILTIN_REF over all 256 inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runtime
from runtime.errors import ModelError
from tests import models
from tests.elem_oracle import assert_matches_oracle

ALL = np.arange(-128, 128, dtype=np.int8).reshape(2, 8, 16)


@pytest.mark.parametrize("in_scale", [0.001, 0.0123, 0.05, 0.1, 0.5, 3.0])
@pytest.mark.parametrize("in_zp", [-128, -3, 0, 77, 127])
@pytest.mark.parametrize("out_zp", [-128, 0, 50])
def test_logistic_grid(in_scale, in_zp, out_zp):
    buf = models.unary_model_q("LOGISTIC", ALL.shape, (in_scale, in_zp), (1.0 / 256, out_zp))
    assert_matches_oracle(buf, [ALL], what=f"LOGISTIC {in_scale} {in_zp} {out_zp}")


@pytest.mark.parametrize("in_scale", [0.001, 0.0123, 0.05, 0.1, 0.5, 3.0])
@pytest.mark.parametrize("in_zp", [-128, -3, 0, 77, 127])
@pytest.mark.parametrize("out_q", [(1.0 / 128, 0), (1.0 / 256, -128), (0.003, 17), (0.02, -100)])
def test_tanh_grid(in_scale, in_zp, out_q):
    buf = models.unary_model_q("TANH", ALL.shape, (in_scale, in_zp), out_q)
    assert_matches_oracle(buf, [ALL], what=f"TANH {in_scale} {in_zp} {out_q}")


def test_logistic_requires_output_scale_1_over_256():
    buf = models.unary_model_q("LOGISTIC", (4,), (0.05, 0), (1.0 / 128, -128))
    with pytest.raises(ModelError, match="1/256"):
        runtime.load(buf)


@settings(max_examples=40, deadline=None)
@given(op=st.sampled_from(["LOGISTIC", "TANH"]), si=st.floats(1e-4, 8.0), zi=st.integers(-128, 127),
       so=st.floats(1e-3, 0.1), zo=st.integers(-128, 127))
def test_lut_property(op, si, zi, so, zo):
    out_q = (1.0 / 256, zo) if op == "LOGISTIC" else (so, zo)
    buf = models.unary_model_q(op, ALL.shape, (si, zi), out_q)
    assert_matches_oracle(buf, [ALL], what="hypothesis")
