"""Start a broker on this machine: Mosquitto if installed, else the embedded Python broker.

Mosquitto is started with persistence on and `max_queued_messages` raised (its
default of 1000 silently drops QoS 1 messages for a slow or offline client).

The broker never outlives the process that started it, even one killed with SIGKILL: on Linux it
is exec'd through a tiny interpreter that sets PR_SET_PDEATHSIG (SIGTERM) first, and when we run
as root the generated config says `user root`, because mosquitto's default privilege drop to user
`mosquitto` would clear that death signal (and could not write our root-owned data dir).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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


def ensure_port_free(host: str, port: int, wait: float = 0.0) -> None:
    """Raise BrokerStartError when something already listens on host:port (it would answer
    our clients in place of the broker we start). `wait`: seconds to let a previous broker of
    ours release the port (one that got SIGTERM because its core was killed is still exiting)."""
    deadline = time.monotonic() + wait
    while True:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                return
            except OSError as e:
                if time.monotonic() >= deadline:
                    raise BrokerStartError(f"cannot start a local broker on {host}:{port}: {e.strerror or e} "
                                           "(another broker running? set [broker] host/port in core.toml)") from None
        time.sleep(0.05)


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"):
        if os.access(p, os.X_OK):
            return p
    return None


PR_SET_PDEATHSIG = 1
PORT_RELEASE_WAIT_S = 2.0     # a killed core's broker saves its persistence file, then frees the port
SPAWN_TIMEOUT_S = 30.0

# Runs in a fresh interpreter between fork and the exec of mosquitto, so no Python code of the
# (threaded) core runs in the forked child, as a preexec_fn would. Asks the kernel for SIGTERM
# when the parent dies; if the parent already died before that (argv[1] is its pid), exits instead
# of becoming an orphan broker.
_DIE_WITH_PARENT = (
    "import ctypes, os, sys\n"
    f"if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_PDEATHSIG}, {int(signal.SIGTERM)}, 0, 0, 0) != 0:\n"
    "    sys.exit('ember: prctl(PR_SET_PDEATHSIG) failed: ' + os.strerror(ctypes.get_errno()))\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(0)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n")


def die_with_parent_argv(argv: list[str]) -> list[str]:
    """`argv` wrapped so the program gets SIGTERM when this process dies (Linux; unchanged elsewhere).
    The program must not change its user (that clears the death signal): see MosquittoProcess."""
    if not sys.platform.startswith("linux") or not sys.executable:
        return argv
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv]


class _LastingSpawner:
    """Starts processes from one daemon thread that lives as long as this process. The kernel sends
    the parent-death signal when the *thread* that forked exits, so a broker started from a
    short-lived thread would be stopped with it; the main thread is used directly."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        if threading.current_thread() is threading.main_thread():
            return subprocess.Popen(argv, **kw)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():   # not alive either after a fork
                self._jobs = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._serve, args=(self._jobs,),
                                                name="ember-broker-spawner", daemon=True)
                self._thread.start()
            jobs = self._jobs
        done, box = threading.Event(), []
        jobs.put((argv, kw, box, done))
        if not done.wait(SPAWN_TIMEOUT_S):
            raise BrokerStartError(f"starting {argv[0]} did not finish within {SPAWN_TIMEOUT_S:.0f} s")
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    @staticmethod
    def _serve(jobs: queue.SimpleQueue) -> None:
        while True:
            argv, kw, box, done = jobs.get()
            try:
                box.append(subprocess.Popen(argv, **kw))
            except BaseException as e:      # handed to the caller
                box.append(e)
            done.set()


_spawner = _LastingSpawner()


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _sets_user(conf: str) -> bool:
    return any(line.split()[:1] == ["user"] for line in conf.splitlines())


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
            # as root, mosquitto switches to user `mosquitto` unless told otherwise: that clears
            # PR_SET_PDEATHSIG and could not write our data dir, so it stays the user we are
            # (an explicit `user` in extra_conf wins: mosquitto rejects a second one)
            ("user root\n" if running_as_root() and not _sets_user(self.extra_conf) else "")
            + f"listener {self.port} {self.host}\n"
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
        ensure_port_free(self.host, self.port, PORT_RELEASE_WAIT_S)
        self._write_conf()
        try:
            self.proc = _spawner.popen(die_with_parent_argv([self.binary, "-c", str(self.conf_path)]),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except OSError as e:
            raise BrokerStartError(f"cannot run {self.binary}: {e}") from None
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
