"""Start a broker on this machine: Mosquitto if installed, else the embedded Python broker.

Mosquitto is started with persistence on and `max_queued_messages` raised (its
default of 1000 silently drops QoS 1 messages for a slow or offline client).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import EmberError

log = logging.getLogger("ember.core")


class BrokerStartError(EmberError):
    """A local broker could not be started (port taken, binary failed...)."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, timeout: float, proc=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ensure_port_free(host: str, port: int) -> None:
    """Raise BrokerStartError when something already listens on host:port (it would answer
    our clients in place of the broker we start)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise BrokerStartError(f"cannot start a local broker on {host}:{port}: {e.strerror or e} "
                                   "(another broker running? set [broker] host/port in core.toml)") from None


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"):
        if os.access(p, os.X_OK):
            return p
    return None


class MosquittoProcess:
    """A mosquitto child process on loopback with a generated configuration."""

    kind = "mosquitto"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", data_dir: str | None = None,
                 max_queued: int = 1_000_000, extra_conf: str = ""):
        self.binary = mosquitto_binary()
        if self.binary is None:
            raise BrokerStartError("mosquitto is not installed")
        self.host = host
        self.port = port or free_port(host)
        self._tmp = tempfile.TemporaryDirectory(prefix="ember-mosquitto-")
        self.data_dir = Path(data_dir or self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.max_queued = max_queued
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen | None = None
        self.conf_path = Path(self._tmp.name) / "mosquitto.conf"
        self.log_path = Path(self._tmp.name) / "mosquitto.log"

    def _write_conf(self) -> None:
        self.conf_path.write_text(
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 1\n"
            f"max_queued_messages {self.max_queued}\n"
            "max_inflight_messages 1000\n"
            "set_tcp_nodelay true\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\n"
            + self.extra_conf)

    def start(self, timeout: float = 10.0) -> "MosquittoProcess":
        ensure_port_free(self.host, self.port)
        self._write_conf()
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_listening(self.host, self.port, timeout, self.proc):
            err = self._stop_and_read_error()
            raise BrokerStartError(f"mosquitto did not start on {self.host}:{self.port}: {err}")
        return self

    def _stop_and_read_error(self) -> str:
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            err = b""
        text = (err or b"").decode(errors="replace").strip()
        if self.log_path.exists():
            text += " " + self.log_path.read_text(errors="replace").strip()[-500:]
        return text or f"exit code {self.proc.returncode}"

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), for fault tests. `start()` again restarts on the same port."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()


class EmbeddedBrokerHandle:
    kind = "embedded"

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port = host, port
        from .broker import EmbeddedBroker   # asyncio is imported only when the embedded broker runs

        self.broker = EmbeddedBroker(host, port)

    def start(self) -> "EmbeddedBrokerHandle":
        try:
            self.broker.start()
        except OSError as e:
            raise BrokerStartError(f"cannot start a local broker on {self.host}:{self.port}: {e.strerror or e} "
                                   "(another broker running? set [broker] host/port in core.toml)") from None
        self.port = self.broker.port
        return self

    def stop(self) -> None:
        self.broker.stop()

    def close(self) -> None:
        self.stop()


def start_local_broker(kind: str = "auto", port: int = 1883, host: str = "127.0.0.1",
                       data_dir: str | None = None):
    """Start and return a local broker (object with .kind, .host, .port, .close())."""
    if kind in ("auto", "mosquitto") and mosquitto_binary():
        b = MosquittoProcess(port, host, data_dir)
        try:
            return b.start()
        except BrokerStartError:
            b.close()
            raise
    if kind == "mosquitto":
        raise BrokerStartError("broker.local = 'mosquitto' but no mosquitto binary was found on PATH")
    return EmbeddedBrokerHandle(port, host).start()
