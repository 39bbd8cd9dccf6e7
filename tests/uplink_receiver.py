"""Test helper: a 'cloud side' MQTT 5 subscriber that records every uplink message with its
`ember-msg-id` (persistent session, QoS 1, reconnects by itself when the broker restarts).

    with UplinkReceiver(broker.host, broker.port, "uplink/#") as rx:
        ...
        rx.wait_for(lambda r: len(r.unique()) >= n, timeout=30)
        rx.raw        # [(msg_id, topic, payload)] in arrival order, duplicates included
        rx.unique()   # {msg_id: (topic, payload)} after Deduper
"""
from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from runtime.core.outbox import Deduper, message_body, message_id


class UplinkReceiver:
    def __init__(self, host: str, port: int, topic: str, client_id: str = "ember-test-cloud"):
        self.host, self.port, self.topic = host, port, topic
        self.raw: list[tuple[str | None, str, bytes]] = []
        self.deduper = Deduper()
        self._unique: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self._connect_props = props
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, rc, props):
        if not rc.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, msg):
        mid = message_id(msg)
        with self._lock:
            body = message_body(msg)
            self.raw.append((mid, msg.topic, body))
            if self.deduper.accept(mid) and mid is not None:
                self._unique[mid] = (msg.topic, body)

    def unique(self) -> dict[str, tuple[str, bytes]]:
        with self._lock:
            return dict(self._unique)

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return predicate(self)

    def __enter__(self):
        self.client.connect(self.host, self.port, clean_start=False, properties=self._connect_props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.__exit__()
            raise RuntimeError("uplink receiver could not subscribe")
        return self

    def __exit__(self, *exc):
        self.client.disconnect()
        self.client.loop_stop()
