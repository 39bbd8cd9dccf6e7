"""Cross-compiles the C library + C tests for aarch64 and armv7 and runs them
under qemu-user (tools/cross_test.sh): the NEON and SDOT kernels are checked
against the reference with tolerance 0 on every CI run."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "cross_test.sh"

TOOLS = {
    "aarch64": ["aarch64-linux-gnu-gcc", "qemu-aarch64-static"],
    "armv7": ["arm-linux-gnueabihf-gcc", "qemu-arm-static"],
}


@pytest.mark.qemu
@pytest.mark.parametrize("arch", sorted(TOOLS))
def test_cross_build_and_ctest_under_qemu(arch):
    missing = [t for t in TOOLS[arch] + ["cmake"] if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools for {arch}: {', '.join(missing)}")
    env = dict(os.environ, EMBER_JOBS="2")
    proc = subprocess.run(["bash", str(SCRIPT), arch], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"cross test for {arch} failed:\n{out[-6000:]}"
    assert "100% tests passed" in out, out[-3000:]
    assert "test_simd_conv" in out


def test_cross_script_rejects_unknown_arch():
    proc = subprocess.run(["bash", str(SCRIPT), "riscv64"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown architecture 'riscv64'" in proc.stderr
