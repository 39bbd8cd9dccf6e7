"""A small embedded MQTT broker, so `ember core` and `ember demo` run with no setup.

Speaks MQTT 3.1.1 and the part of MQTT 5 Ember uses: QoS 0 and 1 (QoS 2 is
accepted from publishers and delivered at QoS 1), retained messages, Last Will,
`+`/`#` wildcards, `$share/<group>/<filter>` shared subscriptions (round robin),
persistent sessions (clean_session=0) with a bounded offline queue, keep-alive.
It listens on loopback by default and has no authentication: it is for a
single machine. Production deployments use Mosquitto (see deploy/).

The broker runs an asyncio loop in one background thread:

    broker = EmbeddedBroker(port=0).start()   # port 0: pick a free port
    ... broker.port ...
    broker.stop()
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import threading
from collections import deque
from dataclasses import dataclass, field

from .mqtt_wire import utf8_field, varint

log = logging.getLogger("ember.broker")

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

MAX_PACKET = 1 << 20          # bytes; bigger packets close the connection
MAX_INFLIGHT = 1000           # QoS 1 messages sent to one client and not yet acknowledged
MAX_QUEUED = 100_000          # messages kept for an offline or saturated persistent session


class ProtocolError(Exception):
    """A client sent something the broker cannot accept; its connection is closed."""


# ---------------------------------------------------------------- encoding helpers

def _packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


class _Reader:
    """Cursor over one packet body."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def u8(self) -> int:
        if self.pos >= len(self.buf):
            raise ProtocolError("packet too short")
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u16(self) -> int:
        if self.pos + 2 > len(self.buf):
            raise ProtocolError("packet too short")
        (v,) = struct.unpack_from("!H", self.buf, self.pos)
        self.pos += 2
        return v

    def bytes_(self) -> bytes:
        n = self.u16()
        if self.pos + n > len(self.buf):
            raise ProtocolError("string runs past the end of the packet")
        v = self.buf[self.pos:self.pos + n]
        self.pos += n
        return v

    def varint(self) -> int:
        mult, value = 1, 0
        for _ in range(4):
            b = self.u8()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult <<= 7
        raise ProtocolError("malformed variable-length integer")

    def skip_properties(self) -> bytes:
        n = self.varint()
        if self.pos + n > len(self.buf):
            raise ProtocolError("properties run past the end of the packet")
        props = self.buf[self.pos:self.pos + n]
        self.pos += n
        return props

    def rest(self) -> bytes:
        v = self.buf[self.pos:]
        self.pos = len(self.buf)
        return v


# ---------------------------------------------------------------- topic matching

def valid_filter(f: str) -> bool:
    if not f or "\0" in f:
        return False
    levels = f.split("/")
    for i, lv in enumerate(levels):
        if "#" in lv and (lv != "#" or i != len(levels) - 1):
            return False
        if "+" in lv and lv != "+":
            return False
    return True


def topic_matches(filt: str, topic: str) -> bool:
    """MQTT filter match; wildcards at the first level never match `$` topics."""
    if topic.startswith("$") and filt[:1] in ("+", "#"):
        return False
    f, t = filt.split("/"), topic.split("/")
    for i, lv in enumerate(f):
        if lv == "#":
            return True
        if i >= len(t):
            return False
        if lv != "+" and lv != t[i]:
            return False
    return len(f) == len(t)


def split_shared(filt: str) -> tuple[str | None, str]:
    """`$share/group/a/b` -> ("group", "a/b"); other filters -> (None, filt)."""
    if filt.startswith("$share/"):
        parts = filt.split("/", 2)
        if len(parts) == 3 and parts[1] and "+" not in parts[1] and "#" not in parts[1]:
            return parts[1], parts[2]
        raise ProtocolError(f"malformed shared subscription {filt!r}")
    return None, filt


# ---------------------------------------------------------------- sessions

@dataclass
class _Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    props: bytes = b""          # MQTT 5 publish properties forwarded to MQTT 5 subscribers


# MQTT 5 PUBLISH properties: id -> kind. Forwarded: all but topic alias and subscription id.
_PROPS = {0x01: 1, 0x02: 4, 0x03: "s", 0x08: "s", 0x09: "s", 0x0B: "v", 0x23: 2, 0x26: "ss"}


def forwardable_properties(props: bytes) -> bytes:
    """The PUBLISH properties a broker passes on; b"" when they cannot be parsed."""
    r, out = _Reader(props), bytearray()
    try:
        while r.pos < len(props):
            start = r.pos
            pid = r.varint()
            kind = _PROPS.get(pid)
            if kind is None:
                return b""
            if kind == "v":
                r.varint()
            elif kind in ("s", "ss"):
                for _ in kind:
                    r.bytes_()
            else:
                if r.pos + kind > len(props):
                    return b""
                r.pos += kind
            if pid not in (0x0B, 0x23):
                out += props[start:r.pos]
    except ProtocolError:
        return b""
    return bytes(out)


@dataclass
class _Session:
    client_id: str
    clean: bool
    subs: dict = field(default_factory=dict)       # filter (incl. $share prefix) -> qos
    queue: deque = field(default_factory=deque)   # _Message waiting for a free inflight slot / reconnect
    inflight: dict = field(default_factory=dict)  # packet id -> _Message (QoS 1, unacked)
    next_pid: int = 1
    conn: "_Connection | None" = None
    dropped: int = 0

    def alloc_pid(self) -> int:
        for _ in range(65535):
            pid = self.next_pid
            self.next_pid = pid % 65535 + 1
            if pid not in self.inflight:
                return pid
        raise ProtocolError("no free packet identifiers")


class _Connection:
    def __init__(self, broker: "EmbeddedBroker", reader, writer):
        self.broker = broker
        self.reader, self.writer = reader, writer
        self.session: _Session | None = None
        self.v5 = False
        self.will: _Message | None = None
        self.keepalive = 0
        self.closed = False
        self.inbound_qos2: set[int] = set()

    def send(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def send_publish(self, msg: _Message, qos: int, pid: int = 0, dup: bool = False, retain: bool = False) -> None:
        body = utf8_field(msg.topic.encode())
        if qos:
            body += struct.pack("!H", pid)
        if self.v5:
            body += varint(len(msg.props)) + msg.props
        flags = (8 if dup else 0) | (qos << 1) | (1 if retain else 0)
        self.send(_packet(PUBLISH, flags, body + msg.payload))


class EmbeddedBroker:
    """In-process MQTT broker (see module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_queued: int = MAX_QUEUED):
        self.host, self.port = host, port
        self.max_queued = max_queued
        self.sessions: dict[str, _Session] = {}
        self.retained: dict[str, _Message] = {}
        self._share_rr: dict[tuple[str, str], itertools.count] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.stats = {"received": 0, "sent": 0, "dropped": 0, "clients": 0}

    # ---- lifecycle
    def start(self, timeout: float = 10.0) -> "EmbeddedBroker":
        self._thread = threading.Thread(target=self._run, name="ember-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("embedded broker did not start in time")
        if self._error:
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port, limit=MAX_PACKET * 2))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as e:  # report bind errors to start()
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for s in list(self.sessions.values()):
                if s.conn:
                    s.conn.closed = True
                    s.conn.writer.close()
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop and self._thread and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self):
        return self.start() if not self._thread else self

    def __exit__(self, *exc):
        self.stop()

    # ---- per connection
    async def _handle(self, reader, writer) -> None:
        conn = _Connection(self, reader, writer)
        self.stats["clients"] += 1
        graceful = False
        try:
            graceful = await self._serve(conn)
        except (ProtocolError, asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError) as e:
            log.debug("connection closed: %s", e)
        except asyncio.CancelledError:  # broker shutting down: end quietly
            graceful = True
        except Exception:  # never let one client take the broker down
            log.exception("unexpected error serving a client")
        finally:
            self.stats["clients"] -= 1
            self._close(conn, send_will=not graceful)

    def _close(self, conn: _Connection, send_will: bool) -> None:
        if conn.closed:
            return
        conn.closed = True
        try:
            conn.writer.close()
        except Exception:
            pass
        s = conn.session
        if s is not None and s.conn is conn:
            s.conn = None
            if s.clean:
                self.sessions.pop(s.client_id, None)
            else:  # unacked messages go back to the front of the queue for the next connection
                for m in reversed(list(s.inflight.values())):
                    s.queue.appendleft(m)
                s.inflight.clear()
        if send_will and conn.will is not None:
            self._publish(conn.will)
        conn.will = None

    async def _read_packet(self, conn: _Connection):
        timeout = conn.keepalive * 1.5 if conn.keepalive else None
        head = await asyncio.wait_for(conn.reader.readexactly(1), timeout)
        mult, length = 1, 0
        for _ in range(4):
            b = (await conn.reader.readexactly(1))[0]
            length += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult <<= 7
        else:
            raise ProtocolError("malformed remaining length")
        if length > MAX_PACKET:
            raise ProtocolError(f"packet of {length} bytes exceeds the {MAX_PACKET} byte limit")
        body = await conn.reader.readexactly(length) if length else b""
        return head[0] >> 4, head[0] & 0x0F, body

    async def _serve(self, conn: _Connection) -> bool:
        ptype, _, body = await asyncio.wait_for(self._read_packet(conn), 10.0)
        if ptype != CONNECT:
            raise ProtocolError("first packet is not CONNECT")
        if not self._on_connect(conn, _Reader(body)):
            await conn.writer.drain()
            return True
        while True:
            ptype, flags, body = await self._read_packet(conn)
            r = _Reader(body)
            if ptype == PUBLISH:
                self._on_publish(conn, flags, r)
            elif ptype == PUBACK:
                self._on_puback(conn, r.u16())
            elif ptype == PUBREL:
                pid = r.u16()
                conn.inbound_qos2.discard(pid)
                conn.send(_packet(PUBCOMP, 0, struct.pack("!H", pid)))
            elif ptype in (PUBREC, PUBCOMP):
                pass  # the broker never sends QoS 2
            elif ptype == SUBSCRIBE:
                self._on_subscribe(conn, r)
            elif ptype == UNSUBSCRIBE:
                self._on_unsubscribe(conn, r)
            elif ptype == PINGREQ:
                conn.send(_packet(PINGRESP, 0, b""))
            elif ptype == DISCONNECT:
                reason = r.u8() if conn.v5 and body else 0
                if reason == 0x04:  # v5 "disconnect with will message"
                    return False
                conn.will = None
                return True
            else:
                raise ProtocolError(f"unexpected packet type {ptype}")
            if conn.writer.transport.get_write_buffer_size() > 4 * MAX_PACKET:
                await conn.writer.drain()

    def _on_connect(self, conn: _Connection, r: _Reader) -> bool:
        proto, level = r.bytes_(), r.u8()
        if proto not in (b"MQTT", b"MQIsdp") or level not in (3, 4, 5):
            conn.send(_packet(CONNACK, 0, b"\x00\x01"))  # unacceptable protocol version
            return False
        conn.v5 = level == 5
        flags = r.u8()
        conn.keepalive = r.u16()
        if conn.v5:
            r.skip_properties()
        client_id = r.bytes_().decode("utf-8", "replace")
        if flags & 0x04:
            if conn.v5:
                r.skip_properties()
            wtopic = r.bytes_().decode("utf-8", "replace")
            wpayload = r.bytes_()
            conn.will = _Message(wtopic, wpayload, min((flags >> 3) & 3, 1), bool(flags & 0x20))
        # username/password are accepted without checks (loopback development broker)
        clean = bool(flags & 0x02)
        if not client_id:
            client_id = f"ember-anon-{id(conn):x}"
            clean = True
        old = self.sessions.get(client_id)
        if old is not None and old.conn is not None:
            self._close(old.conn, send_will=True)  # session takeover
        present = False
        if clean or old is None:
            session = _Session(client_id, clean)
            self.sessions[client_id] = session
        else:
            session, present = old, True
        session.conn = conn
        conn.session = session
        body = bytes([1 if present else 0, 0])
        if conn.v5:
            # properties: retain available(0x25)=1, shared subscription available(0x2A)=1
            props = b"\x25\x01\x2a\x01"
            body += varint(len(props)) + props
        conn.send(_packet(CONNACK, 0, body))
        self._pump(session)
        return True

    def _on_publish(self, conn: _Connection, flags: int, r: _Reader) -> None:
        qos, retain = (flags >> 1) & 3, bool(flags & 1)
        if qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        topic = r.bytes_().decode("utf-8", "replace")
        pid = r.u16() if qos else 0
        props = forwardable_properties(r.skip_properties()) if conn.v5 else b""
        payload = r.rest()
        if not topic or "+" in topic or "#" in topic:
            raise ProtocolError(f"invalid topic name {topic!r}")
        self.stats["received"] += 1
        if qos == 2:
            if pid not in conn.inbound_qos2:
                conn.inbound_qos2.add(pid)
                self._publish(_Message(topic, payload, 1, retain, props))
            conn.send(_packet(PUBREC, 0, struct.pack("!H", pid)))
            return
        self._publish(_Message(topic, payload, qos, retain, props))
        if qos == 1:
            conn.send(_packet(PUBACK, 0, struct.pack("!H", pid)))

    def _on_puback(self, conn: _Connection, pid: int) -> None:
        s = conn.session
        if s is not None and s.inflight.pop(pid, None) is not None:
            self._pump(s)

    def _on_subscribe(self, conn: _Connection, r: _Reader) -> None:
        pid = r.u16()
        if conn.v5:
            r.skip_properties()
        codes, new_filters = bytearray(), []
        while r.pos < len(r.buf):
            filt = r.bytes_().decode("utf-8", "replace")
            opts = r.u8()
            try:
                group, plain = split_shared(filt)
                ok = valid_filter(plain)
            except ProtocolError:
                ok, group, plain = False, None, filt
            if not ok:
                codes.append(0x80 if not conn.v5 else 0x8F)
                continue
            qos = min(opts & 3, 1)
            conn.session.subs[filt] = qos
            codes.append(qos)
            if group is None:
                new_filters.append((plain, qos))
        if not codes:
            raise ProtocolError("SUBSCRIBE without topic filters")
        props = b"\x00" if conn.v5 else b""
        conn.send(_packet(SUBACK, 0, struct.pack("!H", pid) + props + bytes(codes)))
        for plain, qos in new_filters:  # retained messages (never for shared subscriptions)
            for msg in list(self.retained.values()):
                if topic_matches(plain, msg.topic):
                    self._deliver(conn.session, msg, min(qos, msg.qos), retain=True)

    def _on_unsubscribe(self, conn: _Connection, r: _Reader) -> None:
        pid = r.u16()
        if conn.v5:
            r.skip_properties()
        codes = bytearray()
        while r.pos < len(r.buf):
            filt = r.bytes_().decode("utf-8", "replace")
            codes.append(0 if conn.session.subs.pop(filt, None) is not None else 0x11)
        body = struct.pack("!H", pid) + ((b"\x00" + bytes(codes)) if conn.v5 else b"")
        conn.send(_packet(UNSUBACK, 0, body))

    # ---- routing
    def _publish(self, msg: _Message) -> None:
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = msg
            else:
                self.retained.pop(msg.topic, None)
        shared: dict[tuple[str, str], list] = {}
        for s in list(self.sessions.values()):
            best = -1
            for filt, qos in s.subs.items():
                if filt.startswith("$share/"):
                    group, plain = split_shared(filt)
                    if topic_matches(plain, msg.topic):
                        shared.setdefault((group, plain), []).append((s, qos))
                elif qos > best and topic_matches(filt, msg.topic):
                    best = qos
            if best >= 0:
                self._deliver(s, msg, min(best, msg.qos))
        for key, members in shared.items():
            online = [m for m in members if m[0].conn is not None] or members
            online.sort(key=lambda m: m[0].client_id)
            rr = self._share_rr.setdefault(key, itertools.count())
            s, qos = online[next(rr) % len(online)]
            self._deliver(s, msg, min(qos, msg.qos))

    def _deliver(self, s: _Session, msg: _Message, qos: int, retain: bool = False) -> None:
        if qos == 0:
            if s.conn is not None:
                if s.conn.writer.transport.get_write_buffer_size() > 16 * MAX_PACKET:
                    s.dropped += 1
                    self.stats["dropped"] += 1
                    return
                s.conn.send_publish(msg, 0, retain=retain)
                self.stats["sent"] += 1
            return
        if len(s.queue) >= self.max_queued:
            s.queue.popleft()
            s.dropped += 1
            self.stats["dropped"] += 1
        s.queue.append(_Message(msg.topic, msg.payload, 1, retain, msg.props))
        self._pump(s)

    def _pump(self, s: _Session) -> None:
        conn = s.conn
        if conn is None or conn.closed:
            return
        while s.queue and len(s.inflight) < MAX_INFLIGHT:
            msg = s.queue.popleft()
            pid = s.alloc_pid()
            s.inflight[pid] = msg
            conn.send_publish(msg, 1, pid, retain=msg.retain)
            self.stats["sent"] += 1


def main(argv=None) -> int:
    """`python -m runtime.core.broker [--host H] [--port P]`: run the broker in the foreground."""
    import argparse
    import time
    ap = argparse.ArgumentParser(description="Ember embedded MQTT broker (development use)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    a = ap.parse_args(argv)
    b = EmbeddedBroker(a.host, a.port).start()
    print(f"ember embedded broker listening on {b.host}:{b.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        b.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
