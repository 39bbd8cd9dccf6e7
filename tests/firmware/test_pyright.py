"""pyright over firmware/src against micropython-esp32-stubs and
micropython-stm32-stubs (tools/pyright_firmware.sh): 0 errors."""
import shutil
import subprocess

import pytest

from .conftest import ROOT


@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright not installed")
def test_firmware_type_checks_against_board_stubs():
    p = subprocess.run([str(ROOT / "tools" / "pyright_firmware.sh")], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    if p.returncode == 3:
        pytest.skip("could not install the MicroPython stubs: " + p.stderr[-300:])
    print(p.stdout)
    assert p.returncode == 0, p.stdout + p.stderr
    for board in ("esp32", "stm32"):
        assert "against micropython-%s-stubs" % board in p.stdout
    assert p.stdout.count("0 errors, 0 warnings") == 2, p.stdout
