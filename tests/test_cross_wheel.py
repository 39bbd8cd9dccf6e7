"""tools/cross_wheel.sh: the cross-built aarch64 wheel installs (pip, under qemu) into Debian's
arm64 CPython 3.11 and passes tools/wheel_smoke.py. Slow (a C++ cross build plus pip under
emulation: ~3-6 minutes on 2 cores); needs the cross compilers, qemu-user-static, dpkg/apt-get
(the first run downloads ~15 MB of Debian packages) and a host Python 3.11."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _missing():
    for tool in ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "qemu-aarch64-static", "dpkg", "apt-get",
                 "cmake"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if sys.version_info[:2] != (3, 11):
        return "the Debian bookworm target Python is 3.11; the host Python must match"
    arches = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout.split()
    if "arm64" not in arches and os.geteuid() != 0:
        return "dpkg has no arm64 architecture and we are not root to add it"
    return None


@pytest.mark.qemu
@pytest.mark.slow
def test_cross_built_aarch64_wheel_smoke_test_under_qemu():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ, PYTHON=sys.executable)
    p = subprocess.run(["bash", os.path.join(ROOT, "tools", "cross_wheel.sh"), "aarch64"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, f"cross_wheel.sh failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert "ember wheel smoke test ok: aarch64" in p.stdout, p.stdout[-2000:]
    wheels = [f for f in os.listdir(os.path.join(ROOT, "dist", "cross")) if f.endswith("linux_aarch64.whl")]
    assert len(wheels) == 1
    assert os.path.getsize(os.path.join(ROOT, "dist", "cross", wheels[0])) < 1024 * 1024


def test_cross_wheel_script_rejects_unknown_arch():
    p = subprocess.run(["bash", os.path.join(ROOT, "tools", "cross_wheel.sh"), "riscv64"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "unknown argument" in p.stderr


def test_cibuildwheel_config_covers_the_promised_platforms():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        cfg = tomllib.load(f)["tool"]["cibuildwheel"]
    assert cfg["linux"]["archs"] == ["x86_64", "aarch64", "armv7l"]
    assert "*-musllinux_aarch64" not in cfg["skip"] and "*-musllinux_x86_64" in cfg["skip"]
    script = cfg["test-command"].split()[-1].replace("{project}", ROOT)
    assert os.path.isfile(script)
    with open(os.path.join(ROOT, ".github", "workflows", "wheels.yml")) as f:
        wf = f.read()
    assert "ubuntu-24.04-arm" in wf and "pypa/cibuildwheel" in wf and "tools/cross_wheel.sh" in wf


def test_smoke_script_passes_on_the_source_tree():
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "wheel_smoke.py")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "ember wheel smoke test ok" in p.stdout
