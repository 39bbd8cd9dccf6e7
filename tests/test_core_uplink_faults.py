"""Uplink faults with the whole service running: a real `Core` (runtime/core/service.py) serving
nodes on one Mosquitto and shipping its results through the durable outbox to a second
Mosquitto (the "cloud"), both on 127.0.0.1.

* the cloud broker is stopped mid-stream for five simulated minutes, then restarted;
* the cloud broker is frozen with results in flight, SIGKILLed mid-stream, then restarted.

Meanwhile the nodes keep streaming QoS 1 readings: results keep being produced and persisted
(outbox depth visible in core.snapshot() and the retained status), and once the cloud is back
every result reaches the cloud receiver exactly once after dedupe, with the values
runtime.infer gives.

Simulated time: the service builds its UplinkSender itself, so the tests substitute a subclass
whose clock runs SCALE times faster than real time (the sender's clock and sleep are injectable,
as in tests/test_outbox_uplink.py). Its backoff (0.5 s doubling to 60 s, no jitter) then spans
minutes of simulated outage in a few real seconds.
"""

import collections
import json
import os
import signal
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest

import runtime.core.outbox as outbox_mod
from runtime.core.config import parse_config
from runtime.core.outbox import Backoff
from runtime.core.payload import encode_json
from runtime.core.service import Core
from runtime.quant import dequantize, quantize
from tests.deploy_models import fc_model, model_loader
from tests.mqtt_broker import MosquittoBroker
from tests.uplink_receiver import UplinkReceiver
from tests.waiting import wait_for

pytestmark = pytest.mark.mqtt

FEATURES = [f"x{i}" for i in range(8)]
SCALE = 100.0                                  # simulated seconds per real second
BACKOFF = dict(initial_s=0.5, max_s=60.0, jitter=0.0)
CORE_ID = "gw"


class ScaledClock:
    """Simulated monotonic time that runs SCALE times faster than real time."""

    def __init__(self, scale: float = SCALE):
        self.scale = scale
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self._t0) * self.scale

    def sleep(self, dt: float) -> None:
        # At least 2 ms of real sleep, so a sender waiting for its next attempt does not spin.
        time.sleep(max(dt / self.scale, 0.002))


def max_attempts(sim_seconds: float) -> int:
    """Upper bound of connection attempts the backoff allows in `sim_seconds` of outage:
    attempts at 0, 0.5, 1.5, 3.5, ... (delays 0.5 s doubling, capped at 60 s), plus one."""
    b = Backoff(**BACKOFF)
    t, n = 0.0, 1
    while True:
        t += b.next_delay()
        if t > sim_seconds:
            return n + 1
        n += 1


@pytest.fixture
def sim_uplink(monkeypatch):
    """The service's UplinkSender with a ScaledClock and a jitter-free backoff."""
    clock = ScaledClock()

    class SimulatedTimeSender(outbox_mod.UplinkSender):
        def __init__(self, *args, **kw):
            kw.setdefault("clock", clock)
            kw.setdefault("sleep", clock.sleep)
            kw.setdefault("backoff", Backoff(**BACKOFF))
            super().__init__(*args, **kw)

    # runtime.core.integrations.Uplink imports UplinkSender from runtime.core.outbox when built.
    monkeypatch.setattr(outbox_mod, "UplinkSender", SimulatedTimeSender)
    return clock, SimulatedTimeSender


class Nodes:
    """Node clients on the local broker publishing QoS 1 JSON readings; remembers each input."""

    def __init__(self, broker, names=("n1", "n2")):
        self.clients = {}
        self.sent = {}                       # rid -> float32 features
        self.seq = collections.Counter()
        self.rng = np.random.default_rng(11)
        for name in names:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
            c.connect(broker.host, broker.port)
            c.loop_start()
            self.clients[name] = c

    def stream(self, n):
        """Publish n readings round-robin over the nodes; returns once the broker has them all."""
        infos = []
        names = sorted(self.clients)
        for k in range(n):
            node = names[k % len(names)]
            self.seq[node] += 1
            seq = self.seq[node]
            t = 5000 + seq
            x = self.rng.normal(0, 1.5, 8).astype(np.float32)
            self.sent[f"{node}:fc:{t}:{seq}"] = x
            payload = encode_json(seq, t, f={f: float(v) for f, v in zip(FEATURES, x)})
            infos.append(self.clients[node].publish(f"ember/nodes/{node}/data", payload, 1))
        for info in infos:
            info.wait_for_publish(10)
        assert all(info.is_published() for info in infos)

    def close(self):
        for c in self.clients.values():
            c.disconnect()
            c.loop_stop()


class StatusWatch:
    """The core's retained status on the local broker (latest message)."""

    def __init__(self, broker):
        self.latest = {}
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="status-watch")
        self.c.on_message = lambda c, u, m: self.latest.update(json.loads(m.payload))
        self.c.connect(broker.host, broker.port)
        self.c.subscribe(f"ember/cores/{CORE_ID}/status", 1)
        self.c.loop_start()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def make_core(tmp_path, local, cloud, core=None, broker=None, **uplink):
    (tmp_path / "fc.tflite").write_bytes(fc_model(8, 4, seed=3))
    cfg = parse_config({
        "core": {"id": CORE_ID, "data_dir": str(tmp_path / "data"), "status_interval_s": 0.2, **(core or {})},
        "broker": {"host": local.host, "port": local.port, **(broker or {})},
        "models": [{"name": "fc", "path": str(tmp_path / "fc.tflite"), "features": FEATURES}],
        "deploy": {"enabled": False},
        "uplink": {"host": cloud.host, "port": cloud.port, **uplink},
    })
    return Core(cfg, loader=model_loader())


def rid_of(body: bytes) -> str:
    return json.loads(body)["rid"]


def pending_rids(core) -> set:
    """rids of every result still waiting in the outbox (read through the service's own Outbox)."""
    box = core.uplink.outbox
    return {rid_of(m.payload) for m in box.peek(0, box.depth() + 10)}


def received_rids(rx) -> list:
    with rx._lock:
        return [rid_of(body) for _, _, body in rx.raw]


def diagnose(core, rx, nodes) -> str:
    """What a failed wait reports: the outbox and sender, the core's counters, the receiver."""
    snap = core.snapshot()
    return (f"outbox={snap['outbox']} counters={snap['counters']} ingest={snap['ingest']} "
            f"sent={len(nodes.sent)} received={len(rx.raw)} missing={len(set(nodes.sent) - set(received_rids(rx)))}")


def check_delivery(rx, nodes, core):
    """Every result reached the cloud exactly once after dedupe, with the right values."""
    want = set(nodes.sent)
    assert wait_for(lambda: set(received_rids(rx)) >= want, 40), diagnose(core, rx, nodes)
    assert wait_for(lambda: core.uplink.outbox.depth() == 0, 20), diagnose(core, rx, nodes)
    raw = received_rids(rx)
    assert set(raw) == want                               # none lost, nothing extra
    # The uplink's ember-msg-id is made from the rid (the same if a result were recomputed), so
    # deduplicating by it alone also gives every rid exactly once.
    assert core.counters["results"] >= len(want)
    by_msg_id = collections.Counter(rid_of(body) for _, body in rx.unique().values())
    assert set(by_msg_id) == want and set(by_msg_id.values()) == {1}
    assert all(mid is not None and mid.startswith(rid_of(body) + "#") for mid, _, body in rx.raw)
    # Values: deduplicated by rid, compared with runtime.infer on the same inputs.
    unique = {}
    for _, topic, body in rx.raw:
        r = json.loads(body)
        if r["rid"] in unique:                            # a copy carries the same result
            first = unique[r["rid"]][1]
            assert {**r, "latency_ms": 0} == {**first, "latency_ms": 0}
        unique.setdefault(r["rid"], (topic, r))
    model = model_loader()(fc_model(8, 4, seed=3))
    spec, out = model.inputs[0], model.outputs[0]
    for rid, x in nodes.sent.items():
        topic, r = unique[rid]
        node, _, t, seq = rid.split(":")
        assert topic == f"ember/uplink/{CORE_ID}/ember/results/fc/{node}"
        assert (r["node"], r["model"], r["seq"], r["t"]) == (node, "fc", int(seq), int(t))
        q = quantize(x, spec.scale, spec.zero_point).reshape(spec.shape)
        expect = np.asarray(model.infer(q)).reshape(-1)
        assert r["q"] == expect.tolist(), rid
        assert r["outputs"] == np.round(dequantize(expect, out.scale, out.zero_point)
                                        .astype(np.float64), 6).tolist(), rid
    return len(raw) - len(want)                           # duplicates the receiver dropped


def test_cloud_broker_down_for_minutes_then_restored(tmp_path, sim_uplink):
    clock, sender_cls = sim_uplink
    local, cloud = MosquittoBroker(), MosquittoBroker()
    core = nodes = watch = rx = None
    try:
        local.start()
        cloud.start()
        rx = UplinkReceiver(cloud.host, cloud.port, f"ember/uplink/{CORE_ID}/#").__enter__()
        core = make_core(tmp_path, local, cloud).start()
        assert isinstance(core.uplink.sender, sender_cls)
        watch = StatusWatch(local)
        assert core.wait_connected(15)
        nodes = Nodes(local)
        sender = core.uplink.sender

        nodes.stream(100)                                  # link up: results flow to the cloud
        assert wait_for(lambda: set(received_rids(rx)) >= set(nodes.sent) and
                        core.uplink.outbox.depth() == 0), diagnose(core, rx, nodes)

        cloud.stop()                                       # the cloud goes away mid-stream
        down_at = clock()
        failures0 = sender.stats()["connect_failures"]
        before = set(nodes.sent)
        nodes.stream(200)
        during = set(nodes.sent) - before
        # Results keep being produced and persisted: all of them wait in the outbox.
        assert wait_for(lambda: pending_rids(core) == during), diagnose(core, rx, nodes)
        assert core.counters["results"] >= 300 and core.uplink.outbox.depth() >= 200
        # Five simulated minutes of outage (and at least a few failed reconnections).
        assert wait_for(lambda: clock() - down_at >= 300 and
                        sender.stats()["connect_failures"] - failures0 >= 3, 30)
        nodes.stream(60)                                   # still streaming, minutes later
        assert wait_for(lambda: pending_rids(core) == set(nodes.sent) - before), diagnose(core, rx, nodes)
        snap = core.snapshot()
        up = snap["outbox"]["uplink"]
        assert snap["outbox"]["depth"] >= 260 and snap["outbox"]["rejected"] == 0
        assert snap["outbox"]["dropped"] == 0 and snap["counters"]["uplink_rejected"] == 0
        assert up["connected"] is False and "failed" in (up["last_error"] or "")
        # The backoff spaces the attempts: no more than it allows in the simulated time.
        assert up["connect_failures"] - failures0 <= max_attempts(clock() - down_at) + 1, (up, clock() - down_at)
        # The depth is visible in the retained status the core publishes.
        assert wait_for(lambda: (watch.latest.get("outbox") or {}).get("depth", 0) >= 260), watch.latest

        cloud.start()                                      # restored (same port, same sessions)
        nodes.stream(40)                                   # and the stream goes on
        duplicates = check_delivery(rx, nodes, core)
        print("duplicates dropped by the receiver:", duplicates)
        assert len(nodes.sent) == 400
        assert core.snapshot()["outbox"]["sent"] >= 400        # rows are deleted after their PUBACK
        assert core.uplink.sender.stats()["connects"] >= 2
        assert core.counters["internal_error"] == 0 and all(t.is_alive() for t in core._threads)
    finally:
        for part in (nodes, watch):
            if part is not None:
                part.close()
        if core is not None:
            core.stop()
        if rx is not None:
            rx.__exit__()
        local.cleanup()
        cloud.cleanup()


def _persisted_since(broker, t) -> bool:
    try:
        return os.stat(os.path.join(broker.dir, "mosquitto.db")).st_mtime > t
    except OSError:
        return False


def test_cloud_broker_sigkilled_mid_stream_then_restarted(tmp_path, sim_uplink):
    """Results the uplink had sent but the cloud broker never acknowledged (it froze, then was
    SIGKILLed) are sent again: the outbox deletes a row only after its PUBACK."""
    clock, sender_cls = sim_uplink
    local, cloud = MosquittoBroker(), MosquittoBroker()
    core = nodes = rx = None
    try:
        local.start()
        cloud.start()
        rx = UplinkReceiver(cloud.host, cloud.port, f"ember/uplink/{CORE_ID}/#").__enter__()
        subscribed = time.time()
        core = make_core(tmp_path, local, cloud).start()
        assert isinstance(core.uplink.sender, sender_cls)
        assert core.wait_connected(15)
        nodes = Nodes(local)
        sender = core.uplink.sender
        window = sender.window

        nodes.stream(150)
        assert wait_for(lambda: set(received_rids(rx)) >= set(nodes.sent) and
                        core.uplink.outbox.depth() == 0), diagnose(core, rx, nodes)
        # Mosquitto saves its sessions only every autosave_interval (1 s): wait until the
        # receiver's session is on disk, else a SIGKILL forgets its subscription (the broker
        # would then acknowledge and drop what nobody subscribes to).
        assert wait_for(lambda: _persisted_since(cloud, subscribed), 15)
        published0 = sender.stats()["published"]

        os.kill(cloud.proc.pid, signal.SIGSTOP)           # the cloud broker hangs...
        nodes.stream(250)
        # ...the uplink has a full window sent but not acknowledged, the rest waits in the outbox.
        assert wait_for(lambda: pending_rids(core) == set(list(nodes.sent)[150:])), diagnose(core, rx, nodes)
        assert wait_for(lambda: sender.stats()["inflight"] == window), sender.stats()
        unacked = sender.stats()["published"] - published0
        assert unacked == window
        cloud.kill()                                      # ...and is SIGKILLed mid-stream
        assert wait_for(lambda: not sender.stats()["connected"])
        nodes.stream(100)                                 # the nodes never stop
        assert wait_for(lambda: pending_rids(core) == set(list(nodes.sent)[150:])), \
            diagnose(core, rx, nodes)                     # nothing lost locally
        snap = core.snapshot()
        assert snap["outbox"]["depth"] >= 350 and snap["outbox"]["uplink"]["connected"] is False

        cloud.start()                                     # restarted from its last autosave
        nodes.stream(50)
        duplicates = check_delivery(rx, nodes, core)
        print("duplicates dropped by the receiver:", duplicates)
        assert len(nodes.sent) == 550
        # The window that was in flight at the crash was published again after reconnecting.
        assert sender.stats()["published"] - published0 >= 400 + window
        assert core.snapshot()["outbox"]["sent"] >= 550
        assert core.counters["internal_error"] == 0 and all(t.is_alive() for t in core._threads)
    finally:
        if cloud.proc is not None and cloud.proc.poll() is None:
            os.kill(cloud.proc.pid, signal.SIGCONT)
        if nodes is not None:
            nodes.close()
        if core is not None:
            core.stop()
        if rx is not None:
            rx.__exit__()
        local.cleanup()
        cloud.cleanup()


def test_drop_oldest_batch_larger_than_the_bound_keeps_its_newest(tmp_path):
    """A batch of results larger than the outbox on its own (a worker batch is up to 1024
    messages) is not refused under drop-oldest: its newest messages are kept."""
    with outbox_mod.Outbox(str(tmp_path / "o.db"), max_messages=5, overflow="drop-oldest") as box:
        box.put("r", b"old")
        ids = box.put_many([("r", b"%d" % i, 1, f"id-{i}") for i in range(8)])
        assert ids == [f"id-{i}" for i in range(3, 8)]
        assert [m.payload for m in box.peek()] == [b"%d" % i for i in range(3, 8)]
        assert box.stats()["dropped"] == 4 and box.stats()["rejected"] == 0
    with outbox_mod.Outbox(str(tmp_path / "b.db"), max_bytes=30, overflow="drop-oldest") as box:
        box.put_many([("t", b"x" * 9) for _ in range(5)])          # 10 bytes each with the topic
        assert box.depth() == 3 and box.pending_bytes() == 30 and box.stats()["dropped"] == 2
    with outbox_mod.Outbox(str(tmp_path / "r.db"), max_messages=5, overflow="reject-new") as box:
        with pytest.raises(outbox_mod.OutboxFullError):
            box.put_many([("r", b"%d" % i) for i in range(8)])
        assert box.depth() == 0


@pytest.mark.parametrize("case", ["drop-oldest", "reject-new", "reject-new-paho", "reject-new-backpressure"])
def test_outbox_overflow_policy_during_a_long_outage(tmp_path, sim_uplink, case):
    """The outbox bound reached while the cloud is down. drop-oldest keeps each node's newest
    results and counts the dropped ones. reject-new refuses results (counted) and leaves their
    node messages unacknowledged; the core keeps them and stores their results once the outbox
    has room (a broker resends unacknowledged messages only after a reconnection), so none is
    lost; when those refused batches fill the inbox's budget the core stops taking node data
    (back-pressure): the rest waits at the local broker."""
    clock, sender_cls = sim_uplink
    overflow = "drop-oldest" if case == "drop-oldest" else "reject-new"
    small_inbox = {"queue_limit": 8, "queue_bytes": 4096} if case.endswith("backpressure") else None
    broker_cfg = {"ingest": "paho"} if case.endswith("paho") else {}
    local, cloud = MosquittoBroker(), MosquittoBroker()
    core = nodes = rx = None
    bound = 40
    try:
        local.start()
        cloud.start()
        rx = UplinkReceiver(cloud.host, cloud.port, f"ember/uplink/{CORE_ID}/#").__enter__()
        core = make_core(tmp_path, local, cloud, small_inbox, broker_cfg, max_messages=bound,
                         overflow=overflow).start()
        assert (core.ingest is None) == case.endswith("paho")
        assert isinstance(core.uplink.sender, sender_cls)
        assert core.wait_connected(15)
        nodes = Nodes(local)
        nodes.stream(20)
        assert wait_for(lambda: set(received_rids(rx)) >= set(nodes.sent) and
                        core.uplink.outbox.depth() == 0), diagnose(core, rx, nodes)

        cloud.stop()
        down_at = clock()
        before = list(nodes.sent)
        nodes.stream(100)
        during = [r for r in nodes.sent if r not in set(before)]
        if case == "drop-oldest":
            assert wait_for(lambda: core.counters["results"] == 120), core.counters
            st = core.snapshot()["outbox"]
            assert st["depth"] == bound and st["dropped"] == 100 - bound and st["rejected"] == 0
            kept = pending_rids(core)
            assert kept <= set(during)
            for node in nodes.clients:                 # each node's newest results are kept
                mine = [r for r in during if r.startswith(node + ":")]
                k = len(kept & set(mine))
                assert k and kept & set(mine) == set(mine[len(mine) - k:]), (node, sorted(kept))
            assert core.snapshot()["uplink_parked"] == 0
        elif small_inbox is None:
            # Results are still produced and published locally for every message ...
            assert wait_for(lambda: core.counters["results"] == 120), core.counters
            snap = core.snapshot()
            depth = snap["outbox"]["depth"]
            # ... those the outbox refused are counted, and their node messages kept unacknowledged.
            assert 0 < depth <= bound and snap["outbox"]["dropped"] == 0
            # (a refused batch may be stored in parts as room appears, so both count at least
            # the results not stored)
            assert snap["counters"]["uplink_rejected"] == snap["outbox"]["rejected"] >= 100 - depth
            assert snap["uplink_parked"] >= 100 - depth
            assert pending_rids(core) <= set(during)
        else:
            # The refused batches fill the (small) budget: the core stops taking node data.
            assert wait_for(lambda: core._parked_full() and core.counters["ingest_paused"] > 0), \
                (core.snapshot()["uplink_parked"], core.counters)
            assert core.counters["results"] < 120 and core.snapshot()["uplink_parked"] >= 8
        assert wait_for(lambda: clock() - down_at >= 300)   # five simulated minutes of outage

        cloud.start()
        if case == "drop-oldest":                      # (else new results would drop kept ones)
            assert wait_for(lambda: core.uplink.outbox.depth() == 0), core.snapshot()["outbox"]
        nodes.stream(20)
        after = [r for r in nodes.sent if r not in set(before) | set(during)]
        if case == "drop-oldest":
            want = set(before) | kept | set(after)
            assert wait_for(lambda: set(received_rids(rx)) >= want, 40), len(want - set(received_rids(rx)))
            assert wait_for(lambda: core.uplink.outbox.depth() == 0)
            assert set(received_rids(rx)) == want      # the dropped ones never arrive
        else:
            want = set(nodes.sent)                     # refused ones come back: none lost
            assert wait_for(lambda: set(received_rids(rx)) >= want, 40), \
                (len(want - set(received_rids(rx))), core.snapshot()["outbox"], core.counters)
            assert set(received_rids(rx)) == want
            assert wait_for(lambda: core.snapshot()["uplink_parked"] == 0)
        # Deduplicated by the uplink's ember-msg-id, every result arrived once.
        by_msg_id = collections.Counter(rid_of(body) for _, body in rx.unique().values())
        assert set(by_msg_id) == want and set(by_msg_id.values()) == {1}
        assert core.counters["internal_error"] == 0 and all(t.is_alive() for t in core._threads)
    finally:
        if nodes is not None:
            nodes.close()
        if core is not None:
            core.stop()
        if rx is not None:
            rx.__exit__()
        local.cleanup()
        cloud.cleanup()
