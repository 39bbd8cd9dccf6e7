"""A real Mosquitto broker on 127.0.0.1 for tests (shared by the core, core-reliability and
firmware tests).

Interface:
    from tests.mqtt_broker import MosquittoBroker, free_port, mosquitto_path

    with MosquittoBroker() as broker:          # starts on a free port, persistence on
        broker.host, broker.port               # "127.0.0.1", int
        broker.stop(); broker.start()          # restart on the same port and persistence dir
        broker.kill()                          # SIGKILL (crash), then start() again
        broker.log()                           # text of the broker's log file

    MosquittoBroker(extra_conf="...", listener=False)
        extra_conf: lines appended to the generated mosquitto.conf (e.g. a TLS listener,
        acl_file). listener=False leaves out the default plain listener, so extra_conf must
        declare one; pass port= to pin the port that extra_conf uses ({port} is substituted).

    pytest fixture (import it into a test module: `from tests.mqtt_broker import mqtt_broker`):
        def test_x(mqtt_broker): ...           # a started MosquittoBroker, stopped afterwards

Tests skip (not fail) when the `mosquitto` binary is missing. Every start waits (bounded) until
the port accepts connections; every stop is bounded and ends in SIGKILL if needed.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

PR_SET_PDEATHSIG = 1


def die_with_parent_hook():
    """A Popen preexec_fn that makes the broker get SIGTERM when the test process dies (Linux),
    so a test run killed with SIGKILL leaves no broker behind. Works because the fixture keeps
    mosquitto as the current user (a privilege drop would clear the setting). None elsewhere
    and off the main thread (the kernel signals when the *thread* that forked exits)."""
    import sys
    import threading
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    sig = int(signal.SIGTERM)
    parent = os.getpid()

    def hook():
        prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:      # the test process died before prctl: no broker to leak
            os._exit(0)
    return hook

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def mosquitto_path() -> str | None:
    """Path of the mosquitto binary (PATH, then /usr/sbin), or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class MosquittoBroker:
    """One mosquitto process with its own temp directory (config, persistence, log)."""

    host = "127.0.0.1"

    def __init__(self, extra_conf: str = "", listener: bool = True, port: int | None = None,
                 max_queued_messages: int = 100000, persistence: bool = True):
        binary = mosquitto_path()
        if binary is None:
            pytest.skip("mosquitto binary not found (apt install mosquitto)")
        self.binary = binary
        self.port = port if port is not None else free_port()
        self.dir = tempfile.mkdtemp(prefix="ember-mosquitto-")
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        lines = [
            # Stay the current user when started as root (the temp dir belongs to it).
            "user root" if os.geteuid() == 0 else "",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {self.dir}/",
            "autosave_interval 1",
            f"max_queued_messages {max_queued_messages}",
            "max_inflight_messages 100",
            "per_listener_settings false",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if listener:
            lines += [f"listener {self.port} {self.host}", "allow_anonymous true"]
        lines.append(extra_conf.replace("{port}", str(self.port)))
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "MosquittoBroker":
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.proc = subprocess.Popen([self.binary, "-c", self.conf_path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent_hook())
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err}\n{self.log()}")
            if _port_open(self.host, self.port):
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"mosquitto did not open port {self.port} within {START_TIMEOUT_S}s\n{self.log()}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM; mosquitto saves its persistence file), SIGKILL after a timeout."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._close()

    def kill(self) -> None:
        """Crash the broker (SIGKILL)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "MosquittoBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


@pytest.fixture
def mqtt_broker():
    """A started MosquittoBroker on 127.0.0.1 (plain, anonymous), stopped after the test."""
    broker = MosquittoBroker()
    try:
        broker.start()
        yield broker
    finally:
        broker.cleanup()
