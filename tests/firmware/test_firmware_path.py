"""runtime.firmware_path finds the firmware in a checkout, in the wheel
layout produced by setup.py's build_py, and via EMBER_FIRMWARE_DIR."""
import subprocess
import sys

import pytest

from runtime import firmware_path

from .conftest import FW, ROOT


def test_checkout_layout():
    assert firmware_path.firmware_dir() == FW
    assert (firmware_path.source_dir() / "node.py").is_file()
    assert (firmware_path.fakes_dir() / "machine.py").is_file()


def test_wheel_layout_from_build_py(tmp_path):
    out = tmp_path / "lib"
    p = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    pkg = out / "runtime"
    assert (pkg / "firmware_path.py").is_file()
    assert (pkg / "firmware" / "src" / "link.py").is_file()
    assert (pkg / "firmware" / "host_node.py").is_file()
    assert not list((pkg / "firmware").rglob("__pycache__"))
    assert firmware_path.firmware_dir(pkg) == pkg / "firmware"


def test_env_override_and_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_FIRMWARE_DIR", str(FW))
    assert firmware_path.firmware_dir(tmp_path) == FW
    monkeypatch.setenv("EMBER_FIRMWARE_DIR", str(tmp_path / "nope"))
    with pytest.raises(firmware_path.FirmwareNotFound, match="EMBER_FIRMWARE_DIR"):
        firmware_path.firmware_dir(tmp_path / "pkg")
