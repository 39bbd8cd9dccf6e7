"""Test-side MQTT: a paho subscriber that records messages, and a node
process (firmware/host_node.py under the MicroPython unix port)."""
import json
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho

from .conftest import FW, MICROPYTHON, mp_env


class Recorder:
    """Persistent-session subscriber (clean_session=False, QoS 1) so that it
    also gets what was published while it was reconnecting."""

    def __init__(self, port, topic="ember/#", client_id="recorder", clean=False):
        self.msgs = []
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.on_message = self._on
        self.topic = topic
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.c.connect("127.0.0.1", port, keepalive=5)
        self.c.loop_start()

    def _on(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, m.payload, m.retain))

    def get(self, suffix):
        with self.lock:
            return [(p, r) for t, p, r in self.msgs if t.endswith(suffix)]

    def data(self):
        return [json.loads(p) for p, _ in self.get("/data")]

    def wait(self, pred, timeout=20.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for " + what)

    def publish(self, topic, payload, retain=False):
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def node_config(path, port, node_id="n1", period_ms=25, buffer=64, sensors=None, app=None, **extra):
    cfg = {
        "node_id": node_id, "board": "host", "wdt_ms": 10000,
        "broker": {"host": "127.0.0.1", "port": port, "keepalive": 5, "timeout_ms": 1000,
                   "backoff_min_ms": 100, "backoff_max_ms": 400},
        "buffer": buffer, "max_inflight": 4, "retry_ms": 2000,
        "sensors": sensors if sensors is not None else [{"driver": "sim_env", "seed": 1}],
        "app": app if app is not None else {"period_ms": period_ms},
    }
    cfg.update(extra)
    path.write_text(json.dumps(cfg))
    return path


class NodeProcess:
    """host_node.py under the unix port (default) or CPython (``cpython=True``)."""

    def __init__(self, cfg_path, steps=0, drain_ms=8000, heap=None, cpython=False):
        cmd = [sys.executable] if cpython else [MICROPYTHON]
        if heap:
            cmd += ["-X", "heapsize=" + heap]
        cmd += [str(FW / "host_node.py"), str(cfg_path), str(steps), str(drain_ms)]
        self.p = subprocess.Popen(cmd, env=mp_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(self, timeout=60):
        out, err = self.p.communicate(timeout=timeout)
        assert self.p.returncode == 0, "node failed (%s):\n%s\n%s" % (self.p.returncode, out, err)
        return json.loads(out.strip().splitlines()[-1])

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate(timeout=10)
