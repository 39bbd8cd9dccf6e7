"""The lean MQTT connection for node data: bulk receive, batched PUBACKs, results on the same socket.

paho spends ~0.4 ms of Python per QoS 1 message (select, several small recv()
calls, an MQTTMessage, a callback, one PUBACK write each). This connection
carries only the node data subscription (`{prefix}/nodes/+/data`, or
`$share/{group}/...`) and the results; control topics, status/LWT, configs
and deployments stay on the core's paho client. One I/O thread owns the socket
(plain or TLS, non-blocking, select() with a wake-up pipe):

  * reads up to `recv_size` bytes at a time and cuts every packet out of them in
    C (runtime/core/_mqtt_fast.pyx), handing all PUBLISHes of one read to the
    core as one batch;
  * back-pressure: while the core's inbox is over its bounds (`room()` false)
    the socket is not read. Unacknowledged QoS 1 messages stay at the broker
    (its inflight window then stops it), so nothing is dropped and memory stays
    bounded by the inbox budget plus one read;
  * `submit(results, pids, generation)` (the worker, after a batch was processed
    and persisted): the results as pre-built QoS 1 PUBLISH frames followed by the
    PUBACKs of the batch, written together. PUBACKs of an older connection are
    never sent (the broker redelivers those messages: at-least-once);
  * results in flight are kept until the broker's PUBACK (at most `inflight`,
    or the broker's Receive Maximum in MQTT 5) and resent with DUP after a
    reconnect. Results beyond the window wait in order in a queue, and so do the
    PUBACKs queued after them: a node message is never acknowledged before its
    results were written. The queue is bounded (`max_pending_results`): when it
    is full, submit() waits (back-pressure on the worker, counted as
    `result_backpressure`) while the socket is read for the broker's PUBACKs;
  * CONNECT with clean session off (MQTT 5: session expiry 7 days) and a stable
    client id, PINGREQ keep-alive, a timeout on every blocking step, reconnect
    with exponential backoff.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading
import time
from collections import deque

from ._mqtt_fast import FrameError, FrameParser, publish_frame, pubacks

log = logging.getLogger("ember.core.ingest")

CONNACK, SUBACK, UNSUBACK, PINGRESP, DISCONNECT = 2, 9, 11, 13, 14
PINGREQ = b"\xc0\x00"
COALESCE_S = 0.002            # pause after a short read at high rates (see _session)
SESSION_EXPIRY_S = 7 * 24 * 3600
# Largest packet accepted: MQTT's own limit, as on the paho path. A smaller one would make a node's
# oversized message a protocol error that repeats on every redelivery (MQTT 3.1.1 cannot tell the
# broker); the worker rejects a payload that is no reading (counted) and acknowledges it.
MAX_PACKET = 268435460
_CONNACK_V4 = {1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
               4: "bad user name or password", 5: "not authorized"}


class ConnectRefused(OSError):
    """The broker answered CONNECT with a failure code."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id: str, keepalive: int, protocol: int, username: str = "", password: str = "",
                   receive_max: int = 1000, max_packet: int = 1 << 20) -> bytes:
    """CONNECT with clean session/start off (the broker keeps the subscription and unacked messages)."""
    flags = (0x80 if username else 0) | (0x40 if username and password else 0)
    body = _str("MQTT") + bytes([protocol, flags]) + struct.pack("!H", keepalive)
    if protocol == 5:
        props = (b"\x11" + struct.pack("!I", SESSION_EXPIRY_S) + b"\x21" + struct.pack("!H", receive_max)
                 + b"\x27" + struct.pack("!I", max_packet))
        body += _varint(len(props)) + props
    body += _str(client_id)
    if username:
        body += _str(username)
        if password:
            body += _str(password)
    return b"\x10" + _varint(len(body)) + body


def subscribe_packet(pid: int, topic_filter: str, protocol: int) -> bytes:
    body = struct.pack("!H", pid) + (b"\x00" if protocol == 5 else b"") + _str(topic_filter) + b"\x01"
    return b"\x82" + _varint(len(body)) + body


# MQTT 5 property id -> value size (-1 varint, -2 string/binary, -3 string pair)
_PROP_SIZE = {0x01: 1, 0x17: 1, 0x19: 1, 0x24: 1, 0x25: 1, 0x28: 1, 0x29: 1, 0x2A: 1,
              0x13: 2, 0x21: 2, 0x22: 2, 0x23: 2, 0x02: 4, 0x11: 4, 0x18: 4, 0x27: 4, 0x0B: -1,
              0x03: -2, 0x08: -2, 0x09: -2, 0x12: -2, 0x15: -2, 0x16: -2, 0x1A: -2, 0x1C: -2, 0x1F: -2,
              0x26: -3}


def read_properties(buf: bytes, pos: int) -> tuple[dict, int]:
    """MQTT 5 properties at buf[pos:] -> ({id: int value or bytes}, position after them)."""
    n = shift = length = 0
    while True:
        if pos >= len(buf) or n == 4:
            raise FrameError("malformed property length")
        b = buf[pos]
        pos += 1
        n += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    end = pos + length
    if end > len(buf):
        raise FrameError("properties run past the end of the packet")
    out = {}
    while pos < end:
        pid = buf[pos]
        pos += 1
        size = _PROP_SIZE.get(pid)
        if size is None:
            raise FrameError(f"unknown MQTT 5 property {pid:#x}")
        if size > 0:
            out[pid] = int.from_bytes(buf[pos:pos + size], "big")
            pos += size
        elif size == -1:
            v = shift = 0
            while True:
                b = buf[pos]
                pos += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            out[pid] = v
        else:
            for _ in range(1 if size == -2 else 2):
                (ln,) = struct.unpack_from("!H", buf, pos)
                out[pid] = buf[pos + 2:pos + 2 + ln]
                pos += 2 + ln
    if pos != end:
        raise FrameError("properties run past their length")
    return out, end


class IngestConnection:
    """Node data subscription on a lean MQTT connection (see the module docstring).

    deliver(items, nbytes): items = [(topic, payload, t_monotonic, packet id, qos, generation)];
        returns True when the consumer was still busy with earlier items
    room(): False while the consumer is over its bounds (the socket is then not read)
    counters: dict the connection increments ("publish_error", "result_backpressure",
              "ingest_paused", "ingest_reconnects", "protocol_error")
    """

    def __init__(self, host: str, port: int, client_id: str, topic_filter: str, deliver, room, counters: dict,
                 protocol: int = 4, keepalive: int = 30, username: str = "", password: str = "",
                 ssl_context=None, server_hostname: str | None = None, result_qos: int = 1,
                 inflight: int = 1000, max_pending_results: int = 4096, recv_size: int = 1 << 16,
                 max_packet: int = MAX_PACKET, connect_timeout: float = 10.0, backoff=(0.1, 5.0)):
        self.host, self.port = host, port
        self.client_id, self.topic_filter = client_id, topic_filter
        self.deliver, self.room, self.counters = deliver, room, counters
        self.protocol, self.keepalive = protocol, keepalive
        self.username, self.password = username, password
        self.ssl_context, self.server_hostname = ssl_context, server_hostname or host
        self.result_qos = result_qos
        self.inflight_limit = inflight
        self.max_pending_results = max_pending_results
        self.recv_size = recv_size
        self.max_packet = max_packet
        self.connect_timeout = connect_timeout
        self.backoff = backoff
        self.generation = 0
        self.connected = threading.Event()
        self.ready = threading.Event()          # connected and the subscription acknowledged
        self.session_present = False
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)   # the pending queue has room again
        self._out = bytearray()                 # bytes to write (I/O thread)
        self._window = inflight
        self._inflight: dict[int, tuple] = {}   # pid -> (topic, payload) until the broker's PUBACK
        self._pending: deque = deque()          # (topic, payload) results / (None, pids, gen) PUBACKs, in order
        self._next_pid = 0
        self._sock = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._paused = False
        self._no_wait = False                   # stopping: submit() no longer waits for queue space
        self._thread: threading.Thread | None = None
        self._sub_pid = 0
        self.last_error = ""

    # ------------------------------------------------------------ control
    def start(self) -> "IngestConnection":
        self._thread = threading.Thread(target=self._run, name="ember-core-ingest", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._space:
            self._space.notify_all()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        for s in (self._wake_r, self._wake_w):
            s.close()

    def release_waiters(self) -> None:
        """The service is stopping: a worker waiting in submit() returns (its results stay queued)."""
        with self._space:
            self._no_wait = True
            self._space.notify_all()

    def wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass                                # already woken (pipe full) or closed

    def resume(self) -> None:
        """The consumer made room: wake the I/O thread if it stopped reading."""
        if self._paused:
            self.wake()

    # ------------------------------------------------------------ worker side
    def submit(self, results: list, pids: list, generation: int) -> None:
        """Queue result publishes [(topic, payload bytes)] then the PUBACKs of `pids` (one write).
        PUBACKs of another connection generation are dropped (those messages will be redelivered).
        Waits while `max_pending_results` results wait for the inflight window (until close())."""
        if not results and not pids:
            return
        with self._space:
            if len(self._pending) >= self.max_pending_results:
                self.counters["result_backpressure"] += 1
                while len(self._pending) >= self.max_pending_results and not self._stop.is_set() \
                        and not self._no_wait:
                    self.wake()                  # the I/O thread reads (PUBACKs) while results wait
                    self._space.wait(0.5)
            self._pending.extend(results)
            if pids:
                self._pending.append((None, pids, generation))
            if self._sock is not None:
                self._fill_window()
        self.wake()

    def _alloc_pid(self) -> int:
        for _ in range(65535):
            self._next_pid = self._next_pid % 65535 + 1
            if self._next_pid not in self._inflight and self._next_pid != self._sub_pid:
                return self._next_pid
        raise RuntimeError("no free MQTT packet id")   # cannot happen: the window is <= 65535 - 1

    def _fill_window(self) -> None:
        """Move pending results and PUBACKs into the output, in order, while the inflight window
        allows (lock held)."""
        pending, out, inflight = self._pending, self._out, self._inflight
        qos, window, gen, proto = self.result_qos, self._window, self.generation, self.protocol
        while pending:
            e = pending[0]
            if e[0] is None:                           # the PUBACKs of a batch whose results are out
                pending.popleft()
                if e[2] == gen:
                    out += pubacks(e[1])
            elif qos == 0:
                pending.popleft()
                out += publish_frame(e[0], e[1], 0, 0, False, proto)
            elif len(inflight) < window:
                pending.popleft()
                pid = self._alloc_pid()
                inflight[pid] = e
                out += publish_frame(e[0], e[1], 1, pid, False, proto)
            else:
                break
        if len(pending) < self.max_pending_results:
            self._space.notify_all()

    def status(self) -> dict:
        return {"connected": self.connected.is_set(), "generation": self.generation,
                "results_inflight": len(self._inflight), "results_pending": len(self._pending),
                "paused": self._paused}

    # ------------------------------------------------------------ I/O thread
    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            try:
                self._session()
                delay = self.backoff[0]
            except Exception as e:   # network, protocol and (logged with a traceback) internal errors
                if self._stop.is_set():
                    break
                if not isinstance(e, (OSError, FrameError, EOFError)):
                    self.counters["internal_error"] = self.counters.get("internal_error", 0) + 1
                    log.exception("ingest connection: internal error")
                if isinstance(e, FrameError):
                    self.counters["protocol_error"] += 1
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning("ingest connection to %s:%s: %s; reconnecting in %.1fs",
                            self.host, self.port, self.last_error, delay)
                if self.connected.is_set():
                    delay = self.backoff[0]
            finally:
                self._drop_connection()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.backoff[1])
            self.counters["ingest_reconnects"] += 1

    def _drop_connection(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
            self._out = bytearray()
        self.connected.clear()
        self.ready.clear()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _open(self):
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.server_hostname)
            sock.settimeout(self.connect_timeout)
            sock.sendall(connect_packet(self.client_id, self.keepalive, self.protocol, self.username,
                                        self.password, self.inflight_limit, self.max_packet))
            parser = FrameParser(self.protocol, self.max_packet)
            deadline = time.monotonic() + self.connect_timeout
            first = True
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError("no CONNACK from the broker")
                data = sock.recv(4096)
                if not data:
                    raise EOFError("the broker closed the connection before CONNACK")
                if first and data[0] >> 4 != CONNACK:
                    raise FrameError(f"the broker sent packet type {data[0] >> 4} before CONNACK")
                first = False
                pubs, acks, others = parser.parse(data)
                if others:
                    break
            # A persistent session's queued messages may follow CONNACK in the same read.
            _, _, body = others[0]
            self._on_connack(body)
            return sock, parser, (pubs, acks, others[1:])
        except BaseException:
            sock.close()
            raise

    def _on_connack(self, body: bytes) -> None:
        if len(body) < 2:
            raise FrameError("CONNACK shorter than 2 bytes")
        rc = body[1]
        if self.protocol == 5:
            if rc >= 0x80:
                raise ConnectRefused(f"the broker refused the connection (reason code {rc:#x})")
            props, _ = read_properties(body, 2)
            self._window = max(1, min(self.inflight_limit, props.get(0x21, 65535), 65534))
            if 0x13 in props:                      # server keep alive overrides ours
                self.keepalive = props[0x13]
        else:
            if rc:
                raise ConnectRefused(f"the broker refused the connection: {_CONNACK_V4.get(rc, rc)}")
            self._window = min(self.inflight_limit, 65534)
        self.session_present = bool(body[0] & 1)

    def _session(self) -> None:
        sock, parser, early = self._open()
        sock.setblocking(False)
        with self._lock:
            self.generation += 1
            gen = self.generation
            self._sock = sock
            self._out = bytearray()
            for pid in sorted(self._inflight):     # unacknowledged results again, with DUP
                topic, payload = self._inflight[pid]
                self._out += publish_frame(topic, payload, 1, pid, True, self.protocol)
            self._next_pid = self._next_pid % 65535 + 1
            while self._next_pid in self._inflight:
                self._next_pid = self._next_pid % 65535 + 1
            self._sub_pid = self._next_pid
            self._out += subscribe_packet(self._sub_pid, self.topic_filter, self.protocol)
            self._fill_window()
        self.connected.set()
        log.info("ingest connected to %s:%s as %s (session present: %s)", self.host, self.port,
                 self.client_id, self.session_present)
        keepalive = float(self.keepalive or 0)
        last_tx = time.monotonic()
        ping_sent = 0.0
        wake, stop = self._wake_r, self._stop
        recv_size = self.recv_size
        tls = self.ssl_context is not None
        last_read = 0.0
        early_pubs, early_acks, early_others = early
        if early_acks:
            self._on_acks(early_acks)
        for ptype, flags, body in early_others:
            self._on_other(ptype, body)
        if early_pubs:
            now = time.monotonic()
            self.deliver([(tp, pl, now, pid, qos, gen) for tp, pl, pid, qos in early_pubs],
                         sum(len(p[1]) for p in early_pubs))
        while not stop.is_set():
            reading = self.room() or bool(self._pending)   # results waiting: read their PUBACKs
            if not reading and not self._paused:
                self.counters["ingest_paused"] += 1
            self._paused = not reading
            now = time.monotonic()
            if keepalive:
                if now - last_tx >= keepalive / 2 and not ping_sent:
                    with self._lock:
                        self._out += PINGREQ
                    ping_sent = now
                if ping_sent and reading and now - ping_sent > keepalive:
                    raise TimeoutError(f"no PINGRESP within {keepalive:g}s")
                if ping_sent and not reading:
                    ping_sent = now                # cannot see the answer while not reading
            rl = [wake, sock] if reading else [wake]
            wl = [sock] if self._out else []
            timeout = keepalive / 4 if keepalive else 1.0
            if tls and reading and sock.pending():
                r, w = [sock], wl                  # TLS: decrypted bytes already buffered
            else:
                r, w, _ = select.select(rl, wl, [], timeout)
            if wake in r:
                try:
                    wake.recv(4096)
                except BlockingIOError:
                    pass
            if w:
                with self._lock:
                    if self._out:
                        try:
                            with memoryview(self._out) as mv:        # no copy of the queued bytes
                                n = sock.send(mv[:1 << 18])
                        except (BlockingIOError, InterruptedError):
                            n = 0
                        except OSError as e:
                            if type(e).__name__ in ("SSLWantWriteError", "SSLWantReadError"):
                                n = 0
                            else:
                                raise
                        del self._out[:n]
                        last_tx = time.monotonic()
            if sock in r:
                try:
                    data = sock.recv(recv_size)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    if type(e).__name__ in ("SSLWantReadError", "SSLWantWriteError"):
                        continue
                    raise
                if not data:
                    raise EOFError("the broker closed the connection")
                pubs, nbytes, acks, others = parser.parse_items(data, time.monotonic(), gen)
                if acks:
                    self._on_acks(acks)
                for ptype, flags, body in others:
                    if ptype == PINGRESP:
                        ping_sent = 0.0
                    else:
                        self._on_other(ptype, body)
                if pubs:
                    busy = self.deliver(pubs, nbytes)
                    now = time.monotonic()
                    if (busy or now - last_read < COALESCE_S) and len(data) < recv_size:
                        # A busy worker, or messages arriving faster than one per COALESCE_S: let
                        # more data arrive before the next read (fewer, larger reads and batches,
                        # less GIL contention); a lone message is read at once.
                        stop.wait(COALESCE_S)
                    last_read = now
        self._goodbye(sock)

    def _on_acks(self, acks: list) -> None:
        with self._lock:
            pop = self._inflight.pop
            for pid, rc in acks:
                if pop(pid, None) is not None and rc >= 0x80:
                    self.counters["publish_error"] += 1
            if self._pending:
                self._fill_window()

    def _on_other(self, ptype: int, body: bytes) -> None:
        if ptype == SUBACK:
            pid = int.from_bytes(body[:2], "big")
            codes = body[2:]
            if self.protocol == 5:
                _, end = read_properties(body, 2)
                codes = body[end:]
            if pid == self._sub_pid:
                if any(c >= 0x80 for c in codes):
                    log.error("broker refused the subscription %s: %s", self.topic_filter, list(codes))
                self.ready.set()
        elif ptype == DISCONNECT:
            rc = body[0] if body else 0
            raise EOFError(f"the broker disconnected us (reason code {rc:#x})")
        elif ptype == CONNACK:
            raise FrameError("a second CONNACK on one connection")
        # UNSUBACK, PUBREC/PUBREL/PUBCOMP (never for QoS <= 1 subscriptions), AUTH: ignored

    def _goodbye(self, sock) -> None:
        """Orderly stop: flush what is queued (bounded), then DISCONNECT (the session is kept)."""
        deadline = time.monotonic() + 2.0
        try:
            sock.setblocking(True)
            sock.settimeout(1.0)
            with self._lock:
                data, self._out = bytes(self._out), bytearray()
            if time.monotonic() < deadline:
                sock.sendall(data + b"\xe0\x00")
        except OSError:
            pass


__all__ = ["ConnectRefused", "IngestConnection", "connect_packet", "read_properties", "subscribe_packet"]
