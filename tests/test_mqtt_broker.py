"""The shared Mosquitto test fixture starts, carries messages, restarts and stops."""
import threading

import paho.mqtt.client as mqtt
import pytest

from tests.mqtt_broker import MosquittoBroker, _port_open, mqtt_broker  # noqa: F401

pytestmark = pytest.mark.mqtt


def _roundtrip(broker, topic):
    got = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-sub")
    sub.on_message = lambda c, u, m: got.set()
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    try:
        r, mid = sub.subscribe(topic, qos=1)
        assert r == mqtt.MQTT_ERR_SUCCESS
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-pub")
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        try:
            for _ in range(50):  # bounded: resend until the subscription is active
                pub.publish(topic, b"x", qos=1).wait_for_publish(timeout=2)
                if got.wait(0.1):
                    break
        finally:
            pub.loop_stop(); pub.disconnect()
    finally:
        sub.loop_stop(); sub.disconnect()
    return got.is_set()


def test_broker_carries_messages_and_restarts(mqtt_broker):
    assert _roundtrip(mqtt_broker, "ember/test/a")
    mqtt_broker.kill()
    assert not _port_open(mqtt_broker.host, mqtt_broker.port)
    mqtt_broker.start()
    assert _roundtrip(mqtt_broker, "ember/test/b")


def test_broker_stops_on_exit():
    with MosquittoBroker() as b:
        port = b.port
        assert b.running
    assert not _port_open("127.0.0.1", port)
