"""A Mosquitto started by the test fixture must not outlive its test process when that process
is killed with SIGKILL (no cleanup code runs), or interrupted test runs leak brokers."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mqtt_broker import mosquitto_path

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or mosquitto_path() is None,
                                reason="needs Linux and the mosquitto binary")

CHILD = {
    "fixture": """
import sys
from tests.mqtt_broker import MosquittoBroker
b = MosquittoBroker().start()
print(b.proc.pid, flush=True)
sys.stdin.read()
""",
}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_fixture_broker_is_terminated_when_the_test_process_is_killed():
    starter = "fixture"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    parent = subprocess.Popen([sys.executable, "-c", CHILD[starter]], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    broker_pid = None
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"child did not report a broker pid: {line!r}"
        broker_pid = int(line)
        assert _alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(broker_pid), "mosquitto outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if broker_pid is not None and _alive(broker_pid):
            os.kill(broker_pid, signal.SIGKILL)
