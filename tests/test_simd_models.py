"""Every SIMD path on the real MLPerf Tiny models: for each ISA this CPU can run
(scalar, sse41, avx2 on x86; neon, neondot on ARM), KWS and VWW give exactly
LiteRT BUILTIN_REF's bytes, on 1 and 2 threads; plus the ISA controls
(runtime._core.set_isa, EMBER_ISA, Model.isa)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runtime
from oracle import litert_ref
from real_models import KWS, VWW, model_bytes
from runtime import _core
from runtime.errors import InputError
from runtime.ops import load_all
from runtime.tflite.reader import read_model

ROOT = Path(__file__).resolve().parents[1]
N_INPUTS = 8
ISAS = _core.available_isas()


@pytest.fixture
def restore_isa():
    before = _core.isa()
    yield
    _core.set_isa(before)


def load_or_skip(path):
    data = model_bytes(path)
    missing = sorted({op.name for op in read_model(data).operators} - set(load_all()))
    if missing:
        pytest.skip(f"no builder yet for {', '.join(missing)}")
    return data


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("path", [KWS, VWW], ids=["kws", "vww"])
def test_model_bit_exact_per_isa(path, isa, threads, restore_isa):
    data = load_or_skip(path)
    _core.set_isa(isa)
    m = runtime.load(data, num_threads=threads)
    assert m.isa == isa
    _core.set_isa("scalar")  # later choices do not change a loaded model's path
    assert m.isa == isa
    # SIMD paths prepack conv weights at load; scalar keeps none for conv
    packs = m.memory["persistent_bytes"] > 0
    if isa != "scalar":
        assert packs, f"{isa}: no op was prepacked"
    (spec,) = m.inputs
    rng = np.random.default_rng(99 + threads)
    for i in range(N_INPUTS):
        x = rng.integers(-128, 128, spec.shape, dtype=np.int8)
        if i == 0:
            x[...] = -128  # saturated input
        elif i == 1:
            x[...] = 127
        got = m.infer(x)
        (want,) = litert_ref(data, [x])
        diff = int(np.count_nonzero(got != want))
        assert diff == 0, f"{isa} x{threads} input {i}: {diff} differ: {got.ravel()[:8]} vs {want.ravel()[:8]}"


def test_set_isa_rejects_unknown_and_unavailable(restore_isa):
    with pytest.raises(InputError, match="unknown ISA 'avx512'"):
        _core.set_isa("avx512")
    missing = [i for i in ("scalar", "sse41", "avx2", "neon", "neondot") if i not in ISAS]
    for name in missing:
        with pytest.raises(InputError, match="not available"):
            _core.set_isa(name)
    assert ISAS[0] == "scalar" and _core.best_isa() in ISAS


def _python(code, **env):
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("isa", ISAS)
def test_ember_isa_env_forces_the_path(isa):
    proc = _python("from runtime import _core; print(_core.isa())", EMBER_ISA=isa)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == isa


def test_ember_isa_env_errors_are_clear():
    proc = _python("import runtime._core", EMBER_ISA="pentium")
    assert proc.returncode != 0 and "EMBER_ISA='pentium' is not an ISA name" in proc.stderr
    missing = [i for i in ("sse41", "avx2", "neon", "neondot") if i not in ISAS]
    if missing:
        proc = _python("import runtime._core", EMBER_ISA=missing[0])
        assert proc.returncode != 0 and "not available on this CPU" in proc.stderr
