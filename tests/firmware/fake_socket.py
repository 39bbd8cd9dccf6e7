"""A fake socket that behaves like lwIP on ESP32 with respect to timeouts:
the timeout is cleared after every call (and by setblocking(True)), so code
that sets it once and then blocks would block forever -- which this fake
turns into an AssertionError. Behind it sits a scripted MQTT broker."""
import struct


class WouldBlockForever(AssertionError):
    pass


class FakeBrokerSocket:
    def __init__(self, connack_code=0, ack_publish=True):
        self.timeout = None
        self.inbox = bytearray()  # bytes the client will read
        self.written = bytearray()  # raw bytes the client sent
        self.packets = []  # decoded (type_byte, body) from the client
        self.connack_code = connack_code
        self.ack_publish = ack_publish  # bool or callable(pid, dup) -> bool
        self.calls = []  # (op, timeout in effect)
        self.closed = False
        self.connected_to = None

    # lwIP-like timeout handling
    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def _use_timeout(self, op):
        t = self.timeout
        self.calls.append((op, t))
        self.timeout = None  # lwIP forgets it
        return t

    def connect(self, addr):
        if self._use_timeout("connect") is None:
            raise WouldBlockForever("connect without a timeout")
        self.connected_to = addr

    def send(self, data):
        if self._use_timeout("send") is None:
            raise WouldBlockForever("send without a timeout")
        data = bytes(data)
        self.written += data
        self._parse()
        return len(data)

    def recv(self, n):
        t = self._use_timeout("recv")
        if not self.inbox:
            if t is None:
                raise WouldBlockForever("recv without a timeout and nothing to read")
            raise OSError(11 if t == 0 else 110)
        out = bytes(self.inbox[:n])
        del self.inbox[:n]
        return out

    def close(self):
        self.closed = True

    # the scripted broker
    def _parse(self):
        buf = self.written
        while len(buf) >= 2:
            n = 0
            shift = 0
            k = 1
            while True:
                if k >= len(buf):
                    return
                b = buf[k]
                n |= (b & 0x7F) << shift
                k += 1
                if not b & 0x80:
                    break
                shift += 7
            if len(buf) < k + n:
                return
            first = buf[0]
            body = bytes(buf[k:k + n])
            del buf[:k + n]
            self.packets.append((first, body))
            self._respond(first, body)

    def _respond(self, first, body):
        kind = first & 0xF0
        if kind == 0x10:
            self.inbox += bytes((0x20, 2, 0, self.connack_code))
        elif kind == 0x30 and (first >> 1) & 3 == 1:
            tlen = struct.unpack("!H", body[:2])[0]
            pid = struct.unpack("!H", body[2 + tlen:4 + tlen])[0]
            ack = self.ack_publish(pid, bool(first & 8)) if callable(self.ack_publish) else self.ack_publish
            if ack:
                self.inbox += b"\x40\x02" + struct.pack("!H", pid)
        elif kind == 0x80:
            self.inbox += b"\x90\x03" + body[:2] + b"\x01"
        elif kind == 0xC0:
            self.inbox += b"\xd0\x00"

    def publishes(self):
        """(topic, payload, qos, retain, dup) of every PUBLISH the client sent."""
        out = []
        for first, body in self.packets:
            if first & 0xF0 == 0x30:
                qos = (first >> 1) & 3
                tlen = struct.unpack("!H", body[:2])[0]
                pos = 2 + tlen + (2 if qos else 0)
                out.append((body[2:2 + tlen].decode(), body[pos:], qos, bool(first & 1), bool(first & 8)))
        return out

    def deliver(self, topic, payload, qos=1, retain=False, pid=7):
        t = topic.encode()
        var = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if qos else b"")
        body = var + payload
        self.inbox += bytes((0x30 | (qos << 1) | (1 if retain else 0), len(body))) + body
