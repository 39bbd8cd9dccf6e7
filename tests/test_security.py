"""The shipped Mosquitto security configuration (deploy/mosquitto/mosquitto.conf + acl, certs
from tools/make_certs.sh) on a real Mosquitto on 127.0.0.1: mutual TLS is required, and a node
can neither publish to nor read another node's topics."""
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from tests.mqtt_broker import MosquittoBroker
from tests.waiting import wait_for

pytestmark = pytest.mark.mqtt
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_KEYS = ("persistence", "persistence_location", "autosave_interval", "max_queued_messages",
                "max_inflight_messages", "per_listener_settings", "log_dest", "log_type",
                "connection_messages")


def _make_certs(out, *ids):
    args = ["bash", os.path.join(REPO, "tools", "make_certs.sh"), str(out), "--core", "core-1",
            "--core", "operator"]
    for i in ids:
        args += ["--node", i]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not found")
    certs = tmp_path_factory.mktemp("certs")
    _make_certs(certs, "node-a", "node-b")
    rogue = tmp_path_factory.mktemp("rogue")
    _make_certs(rogue, "node-a")                       # same names, another CA
    shutil.copy(os.path.join(REPO, "deploy", "mosquitto", "acl"), certs / "acl")
    conf = []
    with open(os.path.join(REPO, "deploy", "mosquitto", "mosquitto.conf")) as f:
        for line in f:
            key = line.split("#", 1)[0].strip().split(" ", 1)[0]
            if key in FIXTURE_KEYS:
                continue
            line = line.replace("/etc/mosquitto/ember/", f"{certs}/")
            if key == "listener":
                line = "listener {port} 127.0.0.1\n"
            conf.append(line)
    broker = MosquittoBroker(extra_conf="".join(conf), listener=False)
    try:
        broker.start()
        yield broker, certs, rogue
    finally:
        broker.cleanup()


class Peer:
    """A TLS MQTT 3.1.1 client; connected is True only after a successful CONNACK."""

    def __init__(self, broker, ca, cert=None, key=None, client_id=None):
        self.connected = threading.Event()
        self.messages = []
        self.subscribed = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "",
                             protocol=mqtt.MQTTv311)
        self.c.tls_set(ca_certs=str(ca), certfile=cert and str(cert), keyfile=key and str(key))
        self.c.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and self.connected.set()
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.dropped = threading.Event()
        self.c.on_disconnect = lambda *a: self.dropped.set()
        self.c.on_connect_fail = lambda *a: self.dropped.set()
        self.broker = broker

    def connect(self, timeout=5.0) -> bool:
        try:
            self.c.connect(self.broker.host, self.broker.port, keepalive=10)
        except (OSError, ssl.SSLError):
            return False
        self.c.loop_start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (self.connected.is_set() or self.dropped.is_set()):
            time.sleep(0.02)
        ok = self.connected.is_set()
        if ok:
            time.sleep(0.2)      # a TLS 1.3 server may reject the client cert after the handshake
            ok = self.c.is_connected()
        return ok

    def subscribe(self, topic):
        self.subscribed.clear()
        self.c.subscribe(topic, qos=1)
        assert self.subscribed.wait(5)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def _peer(broker, certs, kind, name):
    p = Peer(broker, certs / "ca.crt", certs / kind / f"{name}.crt", certs / kind / f"{name}.key",
             client_id=name)
    assert p.connect(), f"{name} with a valid certificate must connect\n{broker.log()}"
    return p


def _wait(cond, timeout=10.0):
    return wait_for(cond, timeout)


def test_valid_certificate_connects_and_publishes_own_topic(site):
    broker, certs, _ = site
    core = _peer(broker, certs, "cores", "core-1")
    node = _peer(broker, certs, "nodes", "node-a")
    try:
        core.subscribe("ember/nodes/#")
        node.c.publish("ember/nodes/node-a/data", b'{"seq": 1}', qos=1)
        assert _wait(lambda: ("ember/nodes/node-a/data", b'{"seq": 1}') in core.messages)
    finally:
        node.close(); core.close()


def test_client_without_valid_certificate_cannot_connect(site):
    broker, certs, rogue = site
    for peer, what in [(Peer(broker, certs / "ca.crt"), "no client certificate"),
                       (Peer(broker, certs / "ca.crt", rogue / "nodes" / "node-a.crt",
                             rogue / "nodes" / "node-a.key"), "certificate from another CA")]:
        try:
            assert not peer.connect(), what
        finally:
            peer.c.loop_stop()
    # Plain MQTT on the TLS port: no CONNACK.
    with socket.create_connection((broker.host, broker.port), timeout=5) as s:
        s.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 0]))
        s.settimeout(3)
        try:
            reply = s.recv(4)
        except (socket.timeout, ConnectionResetError):
            reply = b""
        assert not reply.startswith(b"\x20")


def test_node_cannot_publish_to_another_nodes_topic(site):
    broker, certs, _ = site
    core = _peer(broker, certs, "cores", "core-1")
    node = _peer(broker, certs, "nodes", "node-a")
    try:
        core.subscribe("ember/nodes/#")
        core.subscribe("ember/results/#")
        node.c.publish("ember/nodes/node-b/data", b"spoofed", qos=1).wait_for_publish(5)
        node.c.publish("ember/nodes/node-b/status", b"offline", qos=1, retain=True).wait_for_publish(5)
        node.c.publish("ember/results/kws/node-b", b"forged", qos=1).wait_for_publish(5)
        node.c.publish("ember/nodes/node-a/data", b"own", qos=1).wait_for_publish(5)
        # The broker handles one connection's publishes in order: when "own" has arrived, the
        # forbidden ones would have arrived before it.
        assert _wait(lambda: ("ember/nodes/node-a/data", b"own") in core.messages)
        time.sleep(0.3)
        assert [m for m in core.messages if m[1] != b"own"] == []
    finally:
        node.close(); core.close()


def test_node_reads_only_its_own_config(site):
    broker, certs, _ = site
    core = _peer(broker, certs, "cores", "core-1")
    node = _peer(broker, certs, "nodes", "node-a")
    try:
        core.c.publish("ember/nodes/node-b/config", b'{"rate": 2}', qos=1, retain=True).wait_for_publish(5)
        core.c.publish("ember/nodes/node-a/config", b'{"rate": 1}', qos=1, retain=True).wait_for_publish(5)
        node.subscribe("ember/nodes/+/config")
        assert _wait(lambda: ("ember/nodes/node-a/config", b'{"rate": 1}') in node.messages)
        time.sleep(0.3)
        assert all(t == "ember/nodes/node-a/config" for t, _ in node.messages)
    finally:
        node.close(); core.close()


def test_make_certs_rejects_bad_ids(tmp_path):
    r = subprocess.run(["bash", os.path.join(REPO, "tools", "make_certs.sh"), str(tmp_path),
                        "--node", "a/#"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "invalid id" in r.stderr


def _ctx(certs, kind, name):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    ctx.load_cert_chain(str(certs / kind / f"{name}.crt"), str(certs / kind / f"{name}.key"))
    return ctx


def test_deploy_over_tls_operator_allowed_node_denied(site, tmp_path):
    """`ember deploy` with the operator certificate reaches the core (ACL user blocks); a node
    certificate cannot push a package to a core."""
    from runtime.core import package_cli
    from runtime.core.deploy import DeployAgent, DeploymentManager, ModelRegistry
    from runtime.core.package import load_public_key, package_id
    from tests.deploy_models import fc_model, model_loader

    broker, certs, _ = site
    loader = model_loader()
    key = str(tmp_path / "release")
    assert package_cli.main(["keygen", key]) == 0
    mgr = DeploymentManager(ModelRegistry(), str(tmp_path / "store"), [load_public_key(key + ".pub")],
                            loader=loader, core_id="core-1")
    (tmp_path / "m.tflite").write_bytes(fc_model())
    package_cli.LOADER = loader
    try:
        assert package_cli.main(["package", str(tmp_path / "m.tflite"), "--name", "fc", "--version",
                                 "1.0.0", "--key", key, "--out", str(tmp_path / "fc.ember")]) == 0
    finally:
        package_cli.LOADER = None
    blob = (tmp_path / "fc.ember").read_bytes()
    from runtime.core.package import load_private_key, package_model
    node_blob = package_model(fc_model(seed=3), "fc", "2.0.0", load_private_key(key), loader=loader)
    agent = DeployAgent(mgr, broker.host, broker.port, tls=_ctx(certs, "cores", "core-1")).start()
    node = _peer(broker, certs, "nodes", "node-a")
    try:
        node.c.publish("ember/cores/core-1/deploy", node_blob, qos=1).wait_for_publish(5)
        rc = package_cli.main(["deploy", str(tmp_path / "fc.ember"), "--to", "core-1",
                               "--broker", f"{broker.host}:{broker.port}", "--timeout", "30",
                               "--cafile", str(certs / "ca.crt"),
                               "--certfile", str(certs / "cores" / "operator.crt"),
                               "--keyfile", str(certs / "cores" / "operator.key")])
        assert rc == 0
        assert mgr.registry.get("fc").version == "1.0.0"
        # Only the operator's deployment reached the core: the node's (validly signed) package
        # was dropped by the ACL; had it arrived, it would have been handled first (in order).
        assert [h["deploy_id"] for h in mgr.history] == [package_id(blob)]
        assert mgr.counters == {"deployed": 1, "rejected": 0, "rolled_back": 0}
    finally:
        node.close()
        agent.stop()


def test_uplink_sender_over_mutual_tls(site, tmp_path):
    from runtime.core.outbox import Outbox, UplinkSender
    broker, certs, rogue = site
    reader = _peer(broker, certs, "cores", "operator")
    try:
        reader.subscribe("ember/results/#")
        with Outbox(str(tmp_path / "o.db")) as box:
            box.put_many([("ember/results/m/node-a", b"r%d" % i) for i in range(20)])
            sender = UplinkSender(box, broker.host, broker.port, client_id="core-1-uplink",
                                  tls=_ctx(certs, "cores", "core-1"))
            try:
                for _ in range(2000):
                    if box.depth() == 0:
                        break
                    sender.run_once()
                assert box.depth() == 0
            finally:
                sender.stop()
            assert _wait(lambda: len(reader.messages) == 20)
            # The same sender with a certificate from another CA never connects; nothing is lost.
            box.put("ember/results/m/node-a", b"kept")
            bad = UplinkSender(box, broker.host, broker.port, client_id="core-1-uplink",
                               tls=_ctx(rogue, "cores", "core-1"), connect_timeout_s=2)
            try:
                for _ in range(3):
                    bad.run_once()
                    bad._next_attempt = 0.0
                assert not bad.connected and bad.stats()["connect_failures"] >= 1
                assert box.depth() == 1
            finally:
                bad.stop()
    finally:
        reader.close()


def test_core_shared_subscription_allowed(site):
    """Scale-out workers subscribe with $share/<group>/...; the shipped ACL must allow it."""
    broker, certs, _ = site
    core = Peer(broker, certs / "ca.crt", certs / "cores" / "core-1.crt", certs / "cores" / "core-1.key",
                client_id="core-1-w1")
    core.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="core-1-w1", protocol=mqtt.MQTTv5)
    core.c.tls_set(ca_certs=str(certs / "ca.crt"), certfile=str(certs / "cores" / "core-1.crt"),
                   keyfile=str(certs / "cores" / "core-1.key"))
    core.c.on_connect = lambda c, u, f, rc, p: (not rc.is_failure) and core.connected.set()
    core.c.on_message = lambda c, u, m: core.messages.append((m.topic, bytes(m.payload)))
    granted = []
    core.c.on_subscribe = lambda c, u, mid, rcs, p: (granted.extend(rcs), core.subscribed.set())
    assert core.connect()
    node = _peer(broker, certs, "nodes", "node-a")
    try:
        core.subscribe("$share/workers/ember/nodes/+/data")
        assert not granted[0].is_failure, granted
        node.c.publish("ember/nodes/node-a/data", b"shared", qos=1).wait_for_publish(5)
        assert _wait(lambda: ("ember/nodes/node-a/data", b"shared") in core.messages)
    finally:
        node.close(); core.close()
