"""The node's TLS path (secure.py + mqtt.Client over SSLContext) under the
MicroPython unix port against a Mosquitto listener that requires client
certificates and takes the MQTT username from the certificate CN."""
import json

import pytest

from .conftest import MICROPYTHON, MOSQUITTO, Broker, free_port
from .mqtt_helpers import NodeProcess, Recorder, node_config

pytestmark = [pytest.mark.mqtt,
              pytest.mark.skipif(MICROPYTHON is None or MOSQUITTO is None,
                                 reason="needs the micropython unix port and mosquitto")]


@pytest.fixture
def tls_broker(tmp_path):
    pytest.importorskip("cryptography")
    from .certs import make_certs

    certs = make_certs(tmp_path, "tls-node")
    tls_port = free_port()
    extra = ("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n"
             "use_identity_as_username true\n" % (tls_port, certs["ca"], certs["broker_cert"], certs["broker_key"]))
    b = Broker(tmp_path, extra)
    b.start()
    try:
        yield b, tls_port, certs
    finally:
        b.stop()


def test_node_publishes_over_mutual_tls(tls_broker, tmp_path):
    broker, tls_port, certs = tls_broker
    rec = Recorder(broker.port, client_id="tls-recorder", clean=True)  # the plain loopback listener
    try:
        rec.wait(lambda: rec.c.is_connected(), what="recorder")
        cfg = node_config(tmp_path / "node.json", tls_port, node_id="tls-node", period_ms=20)
        d = json.loads(cfg.read_text())
        d["broker"].update({"tls": True, "ca": str(certs["ca"]), "cert": str(certs["node_cert"]),
                            "key": str(certs["node_key"]), "timeout_ms": 5000})
        cfg.write_text(json.dumps(d))
        stats = NodeProcess(cfg, steps=10).result(timeout=90)
        print(stats)
        assert stats["connects"] == 1 and stats["pending"] == 0
        rec.wait(lambda: len(rec.data()) >= 10, what="data over TLS")
        assert [x["seq"] for x in rec.data()] == list(range(10))
        assert [p for p, _ in rec.get("ember/nodes/tls-node/status")][0] == b"online"
        # without a client certificate the broker refuses the node: it keeps retrying, never crashes
        d["broker"].pop("cert")
        d["broker"].pop("key")
        cfg.write_text(json.dumps(d))
        stats = NodeProcess(cfg, steps=5, drain_ms=1500).result(timeout=60)
        assert stats["connects"] == 0 and stats["pending"] == 5
    finally:
        rec.close()
    assert "tls-node" in broker.log()
