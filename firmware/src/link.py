"""The node's connection to the core: a robust layer over ``mqtt.Client``.

- never blocks forever: every socket call has a timeout, ``service()`` does a
  bounded amount of work and returns;
- Last Will: retained ``offline`` on ``{prefix}/nodes/{id}/status``; retained
  ``online`` published after every connect;
- keepalive PINGREQ when idle, connection declared dead when the broker is
  silent for 1.5 keepalive periods;
- reconnect with exponential backoff and jitter;
- data is QoS 1 through a bounded ``ring.Ring`` (oldest dropped and counted
  while offline), retransmitted (DUP) after ``retry_ms`` or a reconnect, in order;
- subscriptions are remembered and renewed after every reconnect.

Works under MicroPython and CPython (``ember demo`` can drive it with
``socket`` from the standard library).
"""
import random

from compat import ticks_add, ticks_diff, ticks_ms
from mqtt import Client, MQTTError
from ring import Ring


class Link:
    def __init__(self, node_id, host, port=1883, prefix="ember", keepalive=30,
                 buffer_size=64, max_inflight=4, retry_ms=5000, timeout_ms=3000,
                 backoff_min_ms=250, backoff_max_ms=30000, user=None, password=None,
                 ssl_context=None, client=None):
        base = "%s/nodes/%s/" % (prefix, node_id)
        self.topic_data = base + "data"
        self.topic_status = base + "status"
        self.topic_config = base + "config"
        self.topic_ack = base + "config/ack"
        self.client = client or Client(node_id, host, port, keepalive, timeout_ms,
                                       user, password, ssl_context)
        self.client.set_last_will(self.topic_status, b"offline", retain=True, qos=1)
        self.client.on_message = self._on_message
        self.client.on_puback = self._on_puback
        self.keepalive_ms = keepalive * 1000
        self.ring = Ring(buffer_size)
        self.max_inflight = max_inflight
        self.retry_ms = retry_ms
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.connected = False
        self.attempts = 0
        self.next_attempt = ticks_ms()
        self.subs = {}  # topic -> callback(topic, payload, retained)
        self.control = []  # (topic, payload, retain) waiting for a connection, bounded
        self._pid = 0
        self.connects = 0
        self.failures = 0
        self.retransmits = 0
        self.last_error = None

    # --- public API ------------------------------------------------------
    def subscribe(self, topic, callback):
        self.subs[topic] = callback
        if self.connected:
            try:
                self._sub(topic)
            except (OSError, MQTTError) as e:
                self._lost(e)  # resubscribed after the reconnect

    def send_data(self, payload):
        """Queue a data message (QoS 1). Never blocks; when the buffer is full
        the oldest message is dropped and counted in ``dropped``."""
        self.ring.push(payload)

    def send_control(self, topic, payload, retain=False):
        """Status/ack messages: sent QoS 1 now if connected, otherwise kept
        (at most 4, newest win) until the next connect."""
        if len(self.control) >= 4:
            self.control.pop(0)
        self.control.append((topic, payload, retain))
        if self.connected:
            try:
                self._flush_control()
            except (OSError, MQTTError) as e:
                self._lost(e)  # kept in ``control``, sent after the reconnect

    @property
    def dropped(self):
        return self.ring.dropped

    @property
    def pending(self):
        return len(self.ring)

    def service(self, wait_ms=0):
        """Do one bounded round of link work: (re)connect when due, read
        incoming packets, keep alive, send and retransmit data."""
        now = ticks_ms()
        if not self.connected:
            if ticks_diff(now, self.next_attempt) < 0:
                return False
            self._connect()
            if not self.connected:
                return False
        try:
            for _ in range(8):  # bounded: at most 8 packets per call
                if self.client.poll(wait_ms) is None:
                    break
                wait_ms = 0
            now = ticks_ms()
            self._retransmit(now)
            self._send_new(now)
            self._keepalive(now)
        except (OSError, MQTTError) as e:
            self._lost(e)
        return self.connected

    def close(self, status=b"offline"):
        """Publish the retained status (the Last Will is not sent after a clean
        DISCONNECT) and disconnect."""
        if self.connected:
            try:
                self.client.publish(self.topic_status, status, qos=1, retain=True, pid=self._next_pid())
            except (OSError, MQTTError):
                pass
            self.client.disconnect()
        self.connected = False

    # --- internals -------------------------------------------------------
    def _next_pid(self):
        for _ in range(self.ring.capacity + 2):
            self._pid = self._pid % 65535 + 1
            if not self.ring.pid_in_use(self._pid):
                return self._pid
        raise MQTTError("no free packet id")

    def _backoff_ms(self):
        base = self.backoff_min_ms << min(self.attempts, 16)
        if base > self.backoff_max_ms:
            base = self.backoff_max_ms
        # "equal jitter": half fixed, half random, so nodes do not reconnect in lockstep
        return base // 2 + (random.getrandbits(16) * (base // 2)) // 65536

    def _connect(self):
        try:
            self.client.connect(clean_session=True)
            self.connected = True
            self.attempts = 0
            self.connects += 1
            self.ring.rewind()
            self.control.insert(0, (self.topic_status, b"online", True))
            for topic in self.subs:
                self._sub(topic)
            self._flush_control()
        except (OSError, MQTTError) as e:
            self.last_error = e
            self.failures += 1
            self.connected = False
            self.client.close()
            self.next_attempt = ticks_add(ticks_ms(), self._backoff_ms())
            self.attempts += 1

    def _lost(self, err):
        self.last_error = err
        self.connected = False
        self.client.close()
        self.ring.rewind()
        self.next_attempt = ticks_add(ticks_ms(), self._backoff_ms())
        self.attempts += 1

    def _sub(self, topic):
        self.client.subscribe(topic, self._next_pid(), qos=1)

    def _flush_control(self):
        while self.control:
            topic, payload, retain = self.control[0]
            self.client.publish(topic, payload, qos=1, retain=retain, pid=self._next_pid())
            self.control.pop(0)

    def _send_new(self, now):
        ring = self.ring
        while ring.inflight < self.max_inflight:
            i = ring.next_unsent()
            if i < 0:
                return
            pid = self._next_pid()
            self.client.publish(self.topic_data, ring.payload[i], qos=1, pid=pid, dup=bool(ring.dup[i]))
            ring.mark_sent(i, pid, now)

    def _retransmit(self, now):
        ring = self.ring
        for i in ring.inflight_slots():
            if ticks_diff(now, ring.sent_at[i]) >= self.retry_ms:
                self.client.publish(self.topic_data, ring.payload[i], qos=1, pid=ring.pid[i], dup=True)
                ring.sent_at[i] = now
                self.retransmits += 1

    def _keepalive(self, now):
        c = self.client
        if ticks_diff(now, c.last_rx) > self.keepalive_ms * 3 // 2:
            raise MQTTError("broker silent for 1.5 keepalive periods")
        if ticks_diff(now, c.last_tx) >= self.keepalive_ms // 2:
            c.ping()

    def _on_puback(self, pid):
        self.ring.ack(pid)

    def _on_message(self, topic, payload, retained):
        cb = self.subs.get(topic)
        if cb:
            cb(topic, payload, retained)
