"""PAD and PADV2 vs LiteRT BUILTIN_REF over ranks 1..5, int32/int64
paddings, zero points and constant values."""
from __future__ import annotations

import numpy as np
import pytest

from tests import nn_models as NM

CASES = [
    ((1, 4, 4, 3), ((0, 0), (1, 1), (2, 0), (0, 0))),
    ((2, 3, 5, 2), ((1, 0), (0, 2), (1, 1), (3, 1))),
    ((7,), ((2, 3),)),
    ((3, 4), ((0, 1), (2, 0))),
    ((2, 2, 3), ((1, 1), (0, 0), (2, 2))),
    ((1, 2, 3, 2, 2), ((0, 1), (1, 0), (0, 0), (2, 1), (1, 1))),
    ((1, 3, 3, 1), ((0, 0), (0, 0), (0, 0), (0, 0))),
]


@pytest.mark.parametrize("i,shape,pads", [(i, *c) for i, c in enumerate(CASES)])
@pytest.mark.parametrize("zp", [-128, 127, 3])
def test_pad(i, shape, pads, zp):
    rng = np.random.default_rng(i * 17 + zp + 1000)
    NM.assert_matches_litert(NM.pad(rng, shape, pads, q=(0.05, zp)), rng, n_inputs=1)


@pytest.mark.parametrize("i,shape,pads", [(i, *c) for i, c in enumerate(CASES)])
@pytest.mark.parametrize("constant", [-128, 127, 0])
def test_padv2(i, shape, pads, constant):
    rng = np.random.default_rng(i * 13 + constant + 1000)
    NM.assert_matches_litert(NM.pad(rng, shape, pads, q=(0.05, -7), constant=constant), rng, n_inputs=1)


def test_int64_paddings():
    rng = np.random.default_rng(8)
    NM.assert_matches_litert(NM.pad(rng, (1, 4, 4, 3), ((0, 0), (1, 2), (2, 1), (0, 0)), pads_dtype="int64"), rng)
