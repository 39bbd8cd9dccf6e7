"""`ember core` (python -m runtime.core) killed with SIGKILL mid-stream and restarted: every
result reaches the uplink broker, exactly once after dropping duplicates by their uplink id
`ember-msg-id` (docs/core.md), also the results computed again from node messages the broker
redelivered after the crash."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from tests.models import softmax_model
from tests.mqtt_broker import MosquittoBroker
from runtime.core.outbox import message_body, message_id
from runtime.core.payload import encode_json
from runtime.quant import dequantize, quantize
from tests.waiting import wait_for as _wait

REPO = Path(__file__).resolve().parents[1]


def _model_bytes():
    """A small model the runtime runs today: FULLY_CONNECTED if available, else SOFTMAX."""
    import runtime
    from tests.deploy_models import fc_model
    try:
        blob = fc_model(16, 4)
        runtime.load(blob)
        return blob
    except runtime.EmberError:
        return softmax_model(np.random.default_rng(3), (1, 16))


def _start_core(conf: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(log, "ab") as f:
        return subprocess.Popen([sys.executable, "-m", "runtime.core", "--config", str(conf)],
                                cwd=str(REPO), env=env, stdout=f, stderr=subprocess.STDOUT)


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_core_killed_mid_stream_every_result_reaches_uplink_once(tmp_path):
    import runtime
    local, cloud = MosquittoBroker(), MosquittoBroker()
    local.start()
    cloud.start()
    procs, clients = [], []
    try:
        blob = _model_bytes()
        (tmp_path / "m.tflite").write_bytes(blob)
        model = runtime.load(blob)
        conf = tmp_path / "core.toml"
        conf.write_text(f"""
[core]
id = "c1"
data_dir = "{tmp_path / 'data'}"
status_interval_s = 0.5
[broker]
host = "127.0.0.1"
port = {local.port}
[[models]]
name = "m"
path = "m.tflite"
features = {json.dumps([f"x{i}" for i in range(16)])}
[uplink]
host = "127.0.0.1"
port = {cloud.port}
""")
        received, lock = [], threading.Lock()

        def on_message(c, u, msg):
            with lock:
                received.append((message_id(msg), json.loads(message_body(msg))))
        # MQTT 5: the uplink (protocol 5) carries ember-msg-id as a user property
        up = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cloud-receiver", protocol=mqtt.MQTTv5)
        up.on_message = on_message
        up.connect(cloud.host, cloud.port)
        up.subscribe("ember/uplink/c1/#", 1)
        up.loop_start()
        clients.append(up)

        log = tmp_path / "core.log"
        procs.append(_start_core(conf, log))
        # the core is ready when its retained status says online
        seen = {}
        watch = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch")
        watch.on_message = lambda c, u, m: seen.update(json.loads(m.payload))
        watch.connect(local.host, local.port)
        watch.subscribe("ember/cores/c1/status", 1)
        watch.loop_start()
        clients.append(watch)
        assert _wait(lambda: seen.get("online") is True, 30), log.read_text()

        node = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="n1")
        node.connect(local.host, local.port)
        node.loop_start()
        clients.append(node)
        rng = np.random.default_rng(5)
        n = 400
        xs = rng.normal(0, 2, (n, 16)).astype(np.float32)
        for i in range(n):
            f = {f"x{j}": float(xs[i, j]) for j in range(16)}
            node.publish("ember/nodes/n1/data", encode_json(i, 1000 + i, f=f), 1).wait_for_publish(10)
            if i == 150:
                assert _wait(lambda: len(received) > 20, 30), log.read_text()
                procs[-1].kill()                              # SIGKILL mid-stream
                procs[-1].wait(10)
            if i == 250:
                procs.append(_start_core(conf, log))          # restart; same outbox and session
        want = {f"n1:m:{1000 + i}:{i}" for i in range(n)}

        def rids():
            with lock:
                return {r["rid"] for _, r in received}
        assert _wait(lambda: rids() >= want, 60), (len(want - rids()), log.read_text()[-3000:])
        with lock:
            got = list(received)
        by_id = {}
        for mid, r in got:                                    # dedupe by ember-msg-id, as a receiver does
            assert mid is not None
            by_id.setdefault(mid, []).append(r)
        assert all(len({r["rid"] for r in rs}) == 1 for rs in by_id.values())
        unique = {rs[0]["rid"]: rs[0] for rs in by_id.values()}
        assert set(unique) == want                            # none lost
        assert len(by_id) == len(want), (                     # nothing extra: a recomputed result kept its id
            f"{len(by_id) - len(want)} results arrived under a second ember-msg-id")
        spec, out = model.inputs[0], model.outputs[0]
        for i in range(0, n, 37):
            r = unique[f"n1:m:{1000 + i}:{i}"]
            q = quantize(xs[i], spec.scale, spec.zero_point).reshape(spec.shape)
            expect = np.asarray(runtime.infer(model, q)).reshape(-1)
            assert r["q"] == expect.tolist()
            assert r["outputs"] == np.round(dequantize(expect, out.scale, out.zero_point).astype(np.float64), 6).tolist()
            assert (r["node"], r["seq"], r["t"]) == ("n1", i, 1000 + i)
    finally:
        for c in clients:
            c.disconnect()
            c.loop_stop()
        for p in procs:
            _stop(p)
        local.cleanup()
        cloud.cleanup()
