"""The lean MQTT connections for node data: bulk receive, batched PUBACKs, results on a second socket.

paho spends ~0.4 ms of Python per QoS 1 message (select, several small recv()
calls, an MQTTMessage, a callback, one PUBACK write each). Two lean
connections carry the node data and the results; control topics, status/LWT,
configs and deployments stay on the core's paho client. One I/O thread owns
both sockets (plain or TLS, non-blocking, select() with a wake-up pipe):

  * the data connection (`client_id`, clean session off) holds the subscription
    (`{prefix}/nodes/+/data`, or `$share/{group}/...`): it reads up to
    `recv_size` bytes at a time and cuts every packet out of them in C
    (runtime/core/_mqtt_fast.pyx), handing all PUBLISHes of one read to the core
    as one batch, and carries the PUBACKs of node messages;
  * back-pressure: while the core's inbox is over its bounds (`room()` false)
    the data socket is not read at all. Unacknowledged QoS 1 messages stay at
    the broker (or in the kernel's socket buffers), so nothing is dropped and
    memory stays bounded by the inbox budget plus one read. This is why results
    have their own connection: the broker's PUBACKs for our results must be read
    while the inbox is full, and a broker keeps sending node messages on a
    socket that is read (Mosquitto 2.0 does not hold to its inflight limit once
    PUBACKs flow), which would grow the inbox without bound under overload;
  * the results connection (`results_client_id`, clean session) carries the
    result PUBLISHes and is always read (only PUBACKs and PINGRESPs arrive on
    it). `submit(results, pids, generation)` (the worker, after a batch was
    processed and persisted) queues the results as pre-built QoS 1 PUBLISH
    frames, then the PUBACKs of the batch: those go out on the data socket only
    once every result queued before them was written to the results socket, so
    a node message is never acknowledged before its results were sent. PUBACKs
    of an older connection generation are never sent (the broker redelivers
    those messages: at-least-once);
  * results in flight are kept until the broker's PUBACK (at most `inflight`,
    or the broker's Receive Maximum in MQTT 5) and resent with DUP after a
    reconnect. Results beyond the window wait in order in a queue, and so do the
    PUBACKs queued after them. The queue is bounded (`max_pending_results`):
    when it is full, submit() waits (back-pressure on the worker, counted as
    `result_backpressure`);
  * CONNECT with a stable client id, PINGREQ keep-alive on each socket, a
    timeout on every blocking step; when either connection fails both are
    closed and reopened with exponential backoff (one generation).
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
from .mqtt_wire import utf8_field, varint

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


def connect_packet(client_id: str, keepalive: int, protocol: int, username: str = "", password: str = "",
                   receive_max: int = 1000, max_packet: int = 1 << 20, clean: bool = False) -> bytes:
    """CONNECT; with clean session/start off (default) the broker keeps the subscription and the
    unacknowledged messages (MQTT 5: for SESSION_EXPIRY_S)."""
    flags = (0x80 if username else 0) | (0x40 if username and password else 0) | (0x02 if clean else 0)
    body = utf8_field("MQTT") + bytes([protocol, flags]) + struct.pack("!H", keepalive)
    if protocol == 5:
        props = (b"" if clean else b"\x11" + struct.pack("!I", SESSION_EXPIRY_S)) \
            + b"\x21" + struct.pack("!H", receive_max) + b"\x27" + struct.pack("!I", max_packet)
        body += varint(len(props)) + props
    body += utf8_field(client_id)
    if username:
        body += utf8_field(username)
        if password:
            body += utf8_field(password)
    return b"\x10" + varint(len(body)) + body


def subscribe_packet(pid: int, topic_filter: str, protocol: int) -> bytes:
    body = struct.pack("!H", pid) + (b"\x00" if protocol == 5 else b"") + utf8_field(topic_filter) + b"\x01"
    return b"\x82" + varint(len(body)) + body


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


class _Link:
    """I/O-thread state of one of the two sockets."""
    __slots__ = ("name", "sock", "parser", "last_tx", "ping_sent")

    def __init__(self, name: str, sock, parser):
        self.name, self.sock, self.parser = name, sock, parser
        self.last_tx = time.monotonic()
        self.ping_sent = 0.0


def _send(sock, data: bytearray) -> int:
    """Write what the socket takes now (no copy of the queued bytes); 0 when it would block."""
    try:
        with memoryview(data) as mv:
            return sock.send(mv[:1 << 18])
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError as e:
        if type(e).__name__ in ("SSLWantWriteError", "SSLWantReadError"):
            return 0
        raise


def _recv(sock, size: int) -> bytes | None:
    """Read what is there; None when nothing was (non-blocking / TLS renegotiation); EOFError at EOF."""
    try:
        data = sock.recv(size)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as e:
        if type(e).__name__ in ("SSLWantReadError", "SSLWantWriteError"):
            return None
        raise
    if not data:
        raise EOFError("the broker closed the connection")
    return data


class IngestConnection:
    """Node data subscription and results on two lean MQTT connections (see the module docstring).

    deliver(items, nbytes): items = [(topic, payload, t_monotonic, packet id, qos, generation)];
        returns True when the consumer was still busy with earlier items
    room(): False while the consumer is over its bounds (the data socket is then not read)
    counters: dict the connection increments ("publish_error", "result_backpressure",
              "ingest_paused", "ingest_reconnects", "protocol_error")
    """

    def __init__(self, host: str, port: int, client_id: str, topic_filter: str, deliver, room, counters: dict,
                 protocol: int = 4, keepalive: int = 30, username: str = "", password: str = "",
                 ssl_context=None, server_hostname: str | None = None, result_qos: int = 1,
                 inflight: int = 1000, max_pending_results: int = 1024, recv_size: int = 1 << 16,
                 max_packet: int = MAX_PACKET, connect_timeout: float = 10.0, backoff=(0.1, 5.0),
                 results_client_id: str | None = None):
        self.host, self.port = host, port
        self.client_id, self.topic_filter = client_id, topic_filter
        self.results_client_id = results_client_id or f"{client_id}-results"
        if self.results_client_id == client_id:
            raise ValueError("the results connection needs a client id of its own")
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
        self.connected = threading.Event()      # both connections up
        self.ready = threading.Event()          # connected and the subscription acknowledged
        self.session_present = False
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)   # the pending queue has room again
        self._sock = None                       # data connection: subscription, node PUBACKs
        self._out = bytearray()                 # bytes to write on it (I/O thread)
        self._rsock = None                      # results connection
        self._rout = bytearray()                # bytes to write on it
        self._rout_total = 0                    # bytes ever queued on / written to the results socket
        self._rout_sent = 0                     #   (this generation)
        self._held_acks: deque = deque()        # (results bytes that must be written first, PUBACK frames)
        self._window = inflight
        self._inflight: dict[int, tuple] = {}   # pid -> (topic, payload) until the broker's PUBACK
        self._pending: deque = deque()          # (topic, payload) results / (None, pids, gen) PUBACKs, in order
        self._next_pid = 0
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._paused = False
        self._no_wait = False                   # stopping: submit() no longer waits for queue space
        self._thread: threading.Thread | None = None
        self._sub_pid = 1
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
        """Queue result publishes [(topic, payload bytes)] then the PUBACKs of `pids`.
        PUBACKs of another connection generation are dropped (those messages will be redelivered).
        Waits (until close()) while the results waiting for the inflight window leave no room for
        these within `max_pending_results` (a larger batch waits for an empty queue)."""
        if not results and not pids:
            return
        with self._space:
            limit = max(0, self.max_pending_results - len(results))   # room for the whole batch
            if self._pending and len(self._pending) > limit:
                self.counters["result_backpressure"] += 1
                while self._pending and len(self._pending) > limit and not self._stop.is_set() \
                        and not self._no_wait:
                    self.wake()
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
            if self._next_pid not in self._inflight:
                return self._next_pid
        raise RuntimeError("no free MQTT packet id")   # cannot happen: the window is <= 65535 - 1

    def _fill_window(self) -> None:
        """Move pending results (to the results socket) and PUBACKs (to the data socket, once the
        results before them are written) into the outputs, in order, while the inflight window
        allows (lock held)."""
        pending, rout, inflight = self._pending, self._rout, self._inflight
        qos, window, gen, proto = self.result_qos, self._window, self.generation, self.protocol
        queued = self._rout_total
        while pending:
            e = pending[0]
            if e[0] is None:                           # the PUBACKs of a batch whose results are queued
                pending.popleft()
                if e[2] == gen:
                    if self._held_acks or self._rout_sent < queued:
                        self._held_acks.append((queued, pubacks(e[1])))
                    else:
                        self._out += pubacks(e[1])
            elif qos == 0:
                pending.popleft()
                frame = publish_frame(e[0], e[1], 0, 0, False, proto)
                rout += frame
                queued += len(frame)
            elif len(inflight) < window:
                pending.popleft()
                pid = self._alloc_pid()
                inflight[pid] = e
                frame = publish_frame(e[0], e[1], 1, pid, False, proto)
                rout += frame
                queued += len(frame)
            else:
                break
        self._rout_total = queued
        if len(pending) < self.max_pending_results:
            self._space.notify_all()

    def _queue_results_bytes(self, data: bytes) -> None:
        self._rout += data
        self._rout_total += len(data)

    def _results_written(self, n: int) -> None:
        """n bytes of the results output went to the socket: release the PUBACKs waiting for them."""
        del self._rout[:n]
        self._rout_sent += n
        held = self._held_acks
        while held and held[0][0] <= self._rout_sent:
            self._out += held.popleft()[1]

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
            socks = (self._sock, self._rsock)
            self._sock = self._rsock = None
            self._out, self._rout = bytearray(), bytearray()
            self._held_acks.clear()
        self.connected.clear()
        self.ready.clear()
        for sock in socks:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass

    def _open(self, client_id: str, clean: bool):
        """Connect and wait for CONNACK -> (socket, parser, (pubs, acks, others) read after CONNACK,
        session present)."""
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.server_hostname)
            sock.settimeout(self.connect_timeout)
            sock.sendall(connect_packet(client_id, self.keepalive, self.protocol, self.username,
                                        self.password, self.inflight_limit, self.max_packet, clean))
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
            present = self._on_connack(body)
            return sock, parser, (pubs, acks, others[1:]), present
        except BaseException:
            sock.close()
            raise

    def _on_connack(self, body: bytes) -> bool:
        """Check CONNACK; take the broker's Receive Maximum as the results window (MQTT 5) and its
        keep alive. -> session present."""
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
        return bool(body[0] & 1)

    def _session(self) -> None:
        dsock, parser, early, present = self._open(self.client_id, clean=False)
        try:
            # The results connection's CONNACK last: its Receive Maximum is the results window.
            rsock, rparser, _, _ = self._open(self.results_client_id, clean=True)
        except BaseException:
            dsock.close()
            raise
        self.session_present = present
        dsock.setblocking(False)
        rsock.setblocking(False)
        with self._lock:
            self.generation += 1
            gen = self.generation
            self._sock, self._rsock = dsock, rsock
            self._out, self._rout = bytearray(), bytearray()
            self._rout_total = self._rout_sent = 0
            self._held_acks.clear()
            for pid, (topic, payload) in self._inflight.items():   # unacknowledged results again, with DUP
                self._queue_results_bytes(publish_frame(topic, payload, 1, pid, True, self.protocol))
            self._out += subscribe_packet(self._sub_pid, self.topic_filter, self.protocol)
            self._fill_window()
        self.connected.set()
        log.info("ingest connected to %s:%s as %s + %s (session present: %s)", self.host, self.port,
                 self.client_id, self.results_client_id, self.session_present)
        data, res = _Link("data", dsock, parser), _Link("results", rsock, rparser)
        keepalive = float(self.keepalive or 0)
        wake, stop = self._wake_r, self._stop
        recv_size = self.recv_size
        tls = self.ssl_context is not None
        last_read = 0.0
        early_pubs, _, early_others = early
        for ptype, flags, body in early_others:
            self._on_other(ptype, body)
        if early_pubs:
            now = time.monotonic()
            self.deliver([(tp, pl, now, pid, qos, gen) for tp, pl, pid, qos in early_pubs],
                         sum(len(p[1]) for p in early_pubs))
        while not stop.is_set():
            reading = self.room()
            if not reading and not self._paused:
                self.counters["ingest_paused"] += 1
            self._paused = not reading
            now = time.monotonic()
            if keepalive:
                for link in (data, res):
                    if now - link.last_tx >= keepalive / 2 and not link.ping_sent:
                        with self._lock:
                            if link is data:
                                self._out += PINGREQ
                            else:
                                self._queue_results_bytes(PINGREQ)
                        link.ping_sent = now
                    if link.ping_sent:
                        if link is data and not reading:
                            link.ping_sent = now       # cannot see the answer while not reading
                        elif now - link.ping_sent > keepalive:
                            raise TimeoutError(f"no PINGRESP within {keepalive:g}s on the {link.name} connection")
            rl = [wake, rsock, dsock] if reading else [wake, rsock]
            wl = ([dsock] if self._out else []) + ([rsock] if self._rout else [])
            ready = [s for s in rl[1:] if s.pending()] if tls else ()
            if ready:
                r, w = ready, wl                       # TLS: decrypted bytes already buffered
            else:
                r, w, _ = select.select(rl, wl, [], keepalive / 4 if keepalive else 1.0)
            if wake in r:
                try:
                    wake.recv(4096)
                except BlockingIOError:
                    pass
            if rsock in w:                             # results first: they release held PUBACKs
                with self._lock:
                    if self._rout:
                        n = _send(rsock, self._rout)
                        if n:
                            self._results_written(n)
                            res.last_tx = time.monotonic()
            if self._out and (dsock in w or dsock not in wl):   # incl. PUBACKs just released
                with self._lock:
                    if self._out:
                        n = _send(dsock, self._out)
                        del self._out[:n]
                        if n:
                            data.last_tx = time.monotonic()
            if rsock in r:
                chunk = _recv(rsock, recv_size)
                if chunk is not None:
                    _, _, acks, others = rparser.parse_items(chunk, 0.0, gen)
                    if acks:
                        self._on_acks(acks)
                    for ptype, flags, body in others:
                        if ptype == PINGRESP:
                            res.ping_sent = 0.0
                        else:
                            self._on_other(ptype, body)
            if dsock in r:
                chunk = _recv(dsock, recv_size)
                if chunk is None:
                    continue
                pubs, nbytes, _, others = parser.parse_items(chunk, time.monotonic(), gen)
                for ptype, flags, body in others:
                    if ptype == PINGRESP:
                        data.ping_sent = 0.0
                    else:
                        self._on_other(ptype, body)
                if pubs:
                    busy = self.deliver(pubs, nbytes)
                    now = time.monotonic()
                    if (busy or now - last_read < COALESCE_S) and len(chunk) < recv_size:
                        # A busy worker, or messages arriving faster than one per COALESCE_S: let
                        # more data arrive before the next read (fewer, larger reads and batches,
                        # less GIL contention); a lone message is read at once.
                        stop.wait(COALESCE_S)
                    last_read = now
        self._goodbye(dsock, rsock)

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

    def _goodbye(self, dsock, rsock) -> None:
        """Orderly stop: flush the results, then the PUBACKs they held back (bounded), then
        DISCONNECT both (the data session is kept)."""
        try:                                   # bounded: 1 s socket timeout per write
            for sock in (rsock, dsock):
                sock.setblocking(True)
                sock.settimeout(1.0)
            with self._lock:
                results = bytes(self._rout)
            rsock.sendall(results + b"\xe0\x00")
            with self._lock:
                self._results_written(len(results))    # releases the PUBACKs held for them
                data, self._out = bytes(self._out), bytearray()
            dsock.sendall(data + b"\xe0\x00")
        except OSError:
            pass


__all__ = ["ConnectRefused", "IngestConnection", "connect_packet", "read_properties", "subscribe_packet"]
