"""Minimal MQTT 3.1.1 client protocol layer (micropython-lib umqtt style).

Why not umqtt.simple: it blocks in ``wait_msg``/``connect`` without a socket
timeout, waits for each PUBACK synchronously and has no retransmission or
offline buffer. This layer only speaks the protocol; ``link.Link`` adds
reconnects, QoS 1 retransmission and the ring buffer.

Every blocking socket call is preceded by ``settimeout``: on ESP32, lwIP
clears a socket's timeout when ``setblocking(True)`` is called (and after
``ssl.wrap_socket``), so a timeout set once at connect time cannot be relied
on. Runs under MicroPython and CPython.
"""
import select
import socket
import struct

from compat import const, is_timeout, sleep_ms, ticks_diff, ticks_ms

CONNECT = const(0x10)
CONNACK = const(0x20)
PUBLISH = const(0x30)
PUBACK = const(0x40)
SUBSCRIBE = const(0x82)
SUBACK = const(0x90)
PINGREQ = const(0xC0)
PINGRESP = const(0xD0)
DISCONNECT = const(0xE0)

MAX_PACKET = const(4096)  # larger incoming packets are read and discarded


class MQTTError(Exception):
    pass


def _no_message(topic, payload, retained):
    pass


def _no_puback(pid):
    pass


def _no_suback(pid, granted_qos):
    pass


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return out


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


class Client:
    def __init__(self, client_id, host, port=1883, keepalive=30, timeout_ms=5000,
                 user=None, password=None, ssl_context=None, sock_factory=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.timeout = timeout_ms / 1000
        self.user = user
        self.password = password
        self.ssl_context = ssl_context
        self.sock_factory = sock_factory
        self.will = None
        self.sock = None
        self._raw = None  # the plain socket under TLS, where timeouts are set
        self._poller = None
        self.last_tx = 0
        self.last_rx = 0
        self.on_message = _no_message  # (topic: str, payload: bytes, retained: bool)
        self.on_puback = _no_puback  # (pid)
        self.on_suback = _no_suback  # (pid, granted_qos)
        self.discarded = 0  # incoming packets too large to keep

    def set_last_will(self, topic, msg, retain=True, qos=1):
        self.will = (topic, msg, retain, qos)

    # --- socket primitives (timeout re-applied every time) ---------------
    def _socks(self):
        sock, raw = self.sock, self._raw
        if sock is None or raw is None:
            raise OSError(107)  # ENOTCONN
        return sock, raw

    def _arm(self, seconds):
        self._socks()[1].settimeout(seconds)

    def _send(self, data):
        mv = memoryview(data)
        off = 0
        sock = self._socks()[0]
        w = getattr(sock, "send", None) or sock.write
        t0 = ticks_ms()
        while off < len(data):
            self._arm(self.timeout)
            n = w(mv[off:])
            if not n:  # TLS "want write/read": retry until the timeout, never forever
                self._stalled(t0)
                continue
            off += n
        self.last_tx = ticks_ms()

    def _recv(self, n):
        sock = self._socks()[0]
        r = getattr(sock, "recv", None) or sock.read
        out = b""
        t0 = ticks_ms()
        while len(out) < n:
            self._arm(self.timeout)
            chunk = r(n - len(out))
            if chunk is None:  # TLS record not complete yet
                self._stalled(t0)
                continue
            if not chunk:
                raise OSError(104)  # peer closed (ECONNRESET)
            out += chunk
        self.last_rx = ticks_ms()
        return out

    def _stalled(self, t0):
        if ticks_diff(ticks_ms(), t0) >= self.timeout * 1000:
            raise OSError(110)  # ETIMEDOUT
        sleep_ms(1)

    # --- connection ------------------------------------------------------
    def connect(self, clean_session=True):
        """Open the TCP (or TLS) connection and complete CONNECT/CONNACK.
        Raises OSError on network failure and MQTTError if refused."""
        self.close()
        addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        raw = self.sock_factory() if self.sock_factory else socket.socket()
        self._raw = raw
        self.sock = raw
        try:
            self._arm(self.timeout)
            raw.connect(addr)
            if self.ssl_context is not None:
                self.sock = self.ssl_context.wrap_socket(raw, server_hostname=self.host)
            try:
                self._poller = select.poll()
                self._poller.register(self.sock, select.POLLIN)
            except (TypeError, ValueError, AttributeError, OSError):
                self._poller = None  # objects without a file descriptor (test fakes)
            flags = 0x02 if clean_session else 0
            payload = _str(self.client_id)
            if self.will:
                topic, msg, retain, qos = self.will
                flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
                payload += _str(topic) + _str(msg)
            if self.user is not None:
                flags |= 0x80
                payload += _str(self.user)
                if self.password is not None:
                    flags |= 0x40
                    payload += _str(self.password)
            var = b"\x00\x04MQTT\x04" + bytes((flags,)) + struct.pack("!H", self.keepalive)
            body = var + payload
            self._send(bytes((CONNECT,)) + _varlen(len(body)) + body)
            head = self._recv(4)
            if head[0] != CONNACK or head[1] != 2:
                raise MQTTError("bad CONNACK %r" % head)
            if head[3] != 0:
                raise MQTTError("connection refused, code %d" % head[3])
            return bool(head[2] & 1)
        except Exception:
            self.close()
            raise

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self._raw = None
        self._poller = None

    def disconnect(self):
        if self.sock is not None:
            try:
                self._send(bytes((DISCONNECT, 0)))
            except OSError:
                pass
        self.close()

    # --- packets out -----------------------------------------------------
    def publish(self, topic, msg, qos=0, retain=False, pid=0, dup=False):
        if isinstance(msg, str):
            msg = msg.encode()
        t = _str(topic)
        size = len(t) + len(msg) + (2 if qos else 0)
        first = PUBLISH | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
        hdr = bytes((first,)) + _varlen(size) + t
        if qos:
            hdr += struct.pack("!H", pid)
        self._send(hdr + msg)

    def subscribe(self, topic, pid, qos=1):
        body = struct.pack("!H", pid) + _str(topic) + bytes((qos,))
        self._send(bytes((SUBSCRIBE,)) + _varlen(len(body)) + body)

    def ping(self):
        self._send(bytes((PINGREQ, 0)))

    # --- packets in ------------------------------------------------------
    def poll(self, wait_ms=0):
        """Read and dispatch at most one incoming packet, waiting at most
        ``wait_ms`` for it to start. Returns the packet type or None.

        The wait is a ``select.poll`` followed by a non-blocking read: a read
        that times out inside TLS leaves MicroPython's mbedTLS socket unusable,
        a non-blocking one (EAGAIN) does not."""
        sock = self._socks()[0]
        if wait_ms > 0:
            pending = getattr(sock, "pending", None)  # CPython TLS: bytes already decrypted
            if not (pending and pending()):
                if self._poller is not None:
                    self._poller.poll(wait_ms)
                else:
                    sleep_ms(wait_ms)
        self._arm(0)
        r = getattr(sock, "recv", None) or sock.read
        try:
            first = r(1)
        except OSError as e:
            if is_timeout(e):
                return None
            raise
        if first is None:  # non-blocking read with nothing ready
            return None
        if not first:
            raise OSError(104)
        ptype = first[0]
        n = 0
        shift = 0
        while True:
            b = self._recv(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTError("bad remaining length")
        if n > MAX_PACKET:
            while n:
                n -= len(self._recv(min(n, 256)))
            self.discarded += 1
            return ptype & 0xF0
        body = self._recv(n) if n else b""
        kind = ptype & 0xF0
        if kind == PUBLISH:
            qos = (ptype >> 1) & 3
            tlen = struct.unpack("!H", body[:2])[0]
            topic = body[2:2 + tlen].decode()
            pos = 2 + tlen
            pid = 0
            if qos:
                pid = struct.unpack("!H", body[pos:pos + 2])[0]
                pos += 2
            self.on_message(topic, body[pos:], bool(ptype & 1))
            if qos == 1:
                self._send(b"\x40\x02" + struct.pack("!H", pid))
            elif qos == 2:
                raise MQTTError("QoS 2 not supported")
        elif kind == PUBACK:
            self.on_puback(struct.unpack("!H", body[:2])[0])
        elif kind == SUBACK:
            self.on_suback(struct.unpack("!H", body[:2])[0], body[2] if len(body) > 2 else 0x80)
        return kind
