"""The local Mosquitto that `ember core` starts (no [broker] host) never outlives the core, even
when the core is killed with SIGKILL, as root (where mosquitto would drop to user `mosquitto`,
clearing the parent-death signal) and as a normal user; and a core restarted after such a kill
brings its broker up again on the same port with the same persistence directory."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from runtime.core.local_broker import MosquittoProcess, die_with_parent_argv, free_port, mosquitto_binary
from tests.waiting import wait_for as _wait

REPO = Path(__file__).resolve().parents[1]
START_S = 60.0          # a core starting on a busy 2-core machine (imports, models, broker)
GONE_S = 15.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or mosquitto_binary() is None,
                                reason="needs Linux (PR_SET_PDEATHSIG, /proc) and the mosquitto binary")


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(comm, state, ppid) of a process, None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2:].split()[:2]
    return comm, state, int(ppid)


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")


def _uid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[2])          # effective uid
    raise AssertionError(f"no Uid line for {pid}")


def _broker_child(parent: int) -> int | None:
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None and st[0] == "mosquitto" and st[2] == parent and st[1] not in ("Z", "X"):
                return int(name)
    return None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _user_kwargs(kind: str) -> dict:
    """Popen arguments that run the core as root / as a normal user, or skip."""
    root = os.geteuid() == 0
    if kind == "root":
        if not root:
            pytest.skip("needs root (the privilege-drop case; CI runs the tests as root)")
        return {}
    if not root:
        return {}                                    # we are the normal user
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' to run the core as a normal user")
    kw = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    try:
        probe = subprocess.run([sys.executable, "-c", "import runtime.core.service, paho.mqtt.client"],
                               cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1"),
                               capture_output=True, timeout=60, **kw).returncode
    except OSError:                                  # the interpreter itself is out of reach
        probe = -1
    if probe != 0:
        pytest.skip("user 'nobody' cannot run this Python/repository (e.g. it lives under /root), so the "
                    "non-root case cannot run here; it runs when the tests run as a normal user")
    return kw


def _retained(port: int, topic: str, timeout: float = 10.0) -> bytes | None:
    got = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="blt-check")
    c.on_connect = lambda cl, *a: cl.subscribe(topic, 1)
    c.on_message = lambda cl, u, msg: got.append(msg.payload)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        _wait(lambda: got, timeout)
    finally:
        c.disconnect()
        c.loop_stop()
    return got[0] if got else None


@pytest.mark.parametrize("user", ["root", "non-root"])
def test_sigkilled_core_takes_its_mosquitto_along_and_a_restarted_core_gets_it_back(user):
    kw = _user_kwargs(user)
    base = Path(tempfile.mkdtemp(prefix="ember-broker-lifetime-"))
    if "user" in kw:
        os.chown(base, kw["user"], kw["group"])
    port = free_port()
    conf = base / "core.toml"
    conf.write_text(f"""
[core]
id = "lifetime"
data_dir = "{base / 'core'}"
log_level = "info"
[broker]
port = {port}
local = "mosquitto"
local_data_dir = "{base / 'broker'}"
[deploy]
enabled = false
""")
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1", HOME=str(base))
    cores: list[subprocess.Popen] = []
    brokers: list[int] = []

    def start_core() -> tuple[subprocess.Popen, int]:
        with open(base / "core.log", "ab") as log:
            core = subprocess.Popen([sys.executable, "-m", "runtime.core", "--config", str(conf)], cwd=REPO,
                                    env=env, stdout=log, stderr=subprocess.STDOUT, **kw)
        cores.append(core)
        pid = _wait(lambda: core.poll() is None and _broker_child(core.pid), START_S)
        assert pid, f"the core started no mosquitto: {(base / 'core.log').read_text()[-2000:]}"
        brokers.append(pid)
        assert _wait(lambda: _listening(port), START_S), "the core's mosquitto does not listen"
        return core, pid

    try:
        core, broker = start_core()
        assert _uid(broker) == _uid(core.pid), "mosquitto changed its user (that clears PR_SET_PDEATHSIG)"
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="blt-pub")
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        try:
            pub.publish("blt/kept", b"across the kill", qos=1, retain=True).wait_for_publish(10)
        finally:
            pub.disconnect()
            pub.loop_stop()

        core.send_signal(signal.SIGKILL)
        core.wait(10)
        assert _wait(lambda: not _alive(broker), GONE_S), "mosquitto outlived its SIGKILLed core"

        core, broker = start_core()                  # same port, same persistence directory
        assert _retained(port, "blt/kept") == b"across the kill"
        _stop(core)
        assert core.returncode == 0, (base / "core.log").read_text()[-2000:]
        assert _wait(lambda: not _alive(broker), GONE_S), "mosquitto outlived its stopped core"
    finally:
        for p in cores:
            _stop(p, signal.SIGKILL)
        for pid in brokers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


THREAD_STARTER = """
import sys, threading
from runtime.core.local_broker import MosquittoProcess
box = []
t = threading.Thread(target=lambda: box.append(MosquittoProcess().start()))
t.start()
t.join()
b = box[0]
print(b.proc.pid, flush=True)
sys.stdin.readline()                     # the test checks the broker survived the thread
print("alive" if b.proc.poll() is None else f"exited {b.proc.returncode}", flush=True)
sys.stdin.read()
"""


def test_broker_started_from_a_short_lived_thread_lives_until_its_process_dies():
    """The kernel sends the parent-death signal when the forking *thread* exits: a broker started
    from a thread that ends must keep running, and still die with the process."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", THREAD_STARTER], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    broker = None
    try:
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"no broker pid from the child: {line!r}"
        broker = int(line)
        assert _wait(lambda: _stat(broker) and _stat(broker)[0] == "mosquitto", 10)
        time.sleep(0.5)                          # a death signal from the thread's exit would have come
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "alive"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert _wait(lambda: not _alive(broker), GONE_S), "mosquitto outlived its SIGKILLed process"
    finally:
        _stop(proc, signal.SIGKILL)
        if broker is not None and _alive(broker):
            os.kill(broker, signal.SIGKILL)


def test_wrapper_runs_the_program_and_skips_it_when_the_parent_is_already_gone():
    argv = die_with_parent_argv([sys.executable, "-c", "print('ran')"])
    assert subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout == "ran\n"
    # the parent died between fork and prctl: its pid is no longer our parent's, nothing runs
    pid_at = argv.index(str(os.getpid()))
    stale = argv[:pid_at] + [str(os.getpid() + 1)] + argv[pid_at + 1:]
    r = subprocess.run(stale, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "")


@pytest.mark.skipif(os.geteuid() != 0, reason="the user option is only written when running as root")
def test_as_root_the_broker_stays_root_and_an_explicit_user_is_not_duplicated():
    b = MosquittoProcess()
    try:
        b.start()
        assert _uid(b.proc.pid) == 0
        assert b.conf_path.read_text().splitlines()[0] == "user root"
    finally:
        b.close()
    b = MosquittoProcess(extra_conf="user root\n")     # mosquitto rejects a second `user` line
    try:
        b.start()
        assert [ln for ln in b.conf_path.read_text().splitlines() if ln.startswith("user")] == ["user root"]
    finally:
        b.close()
