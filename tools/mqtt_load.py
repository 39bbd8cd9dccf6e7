"""Lean MQTT 3.1.1 load for benchmarks: node publishers and a result sink on raw sockets (no paho).

The load must never be what limits a benchmark of the core, so the hot loops do as little Python
per message as possible:
  * `generate()` (run it in its own process, several processes for more load) keeps one TCP
    connection per simulated node, builds QoS 1 PUBLISH frames from pre-formatted payload parts
    (only seq, t and the packet id change) and writes many frames with one `sendall`; PUBACKs are
    read without blocking and bound the un-acknowledged frames per connection (`inflight`).
    Pacing: `rate` msgs/s open loop (chunks every ~1 ms), or closed loop: at most `window`
    messages sent but not yet answered by a result (the sink's per-generator counter).
  * `collect()` subscribes (QoS 0 or 1), reads the socket in large chunks, splits all complete
    frames of a chunk in one pass, finds the `"seq":N` of every reading a result carries with one
    regex (both the one-reading and the `results: [...]` form) and acknowledges in bulk.
Both write what they saw to files for an offline join: the generator one record per chunk
(node index, first seq, count, send time), the sink one key (node index << 32 | seq) and one
receive time per reading. Times are CLOCK_MONOTONIC, shared by all processes on the machine.
"""
from __future__ import annotations

import re
import select
import socket
import struct
import time
from array import array

import numpy as np

from runtime.core.mqtt_wire import utf8_field, varint

PUBLISH, PUBACK, SUBACK, CONNACK = 0x30, 0x40, 0x90, 0x20
PUBACK_BYTE = bytes([PUBACK])
_SEQ = re.compile(rb'"seq":(\d+)')


class LoadError(RuntimeError):
    """The broker refused or dropped a load connection."""


# ------------------------------------------------------------------ frames
def connect_frame(client_id: str, keepalive: int = 60, clean: bool = True) -> bytes:
    body = utf8_field(b"MQTT") + bytes([4, 0x02 if clean else 0]) + struct.pack("!H", keepalive) + utf8_field(client_id.encode())
    return b"\x10" + varint(len(body)) + body


def publish_frame(topic: bytes, payload: bytes, pid: int = 0, qos: int = 1) -> bytes:
    head = utf8_field(topic) + (struct.pack("!H", pid) if qos else b"")
    return bytes([PUBLISH | qos << 1]) + varint(len(head) + len(payload)) + head + payload


def subscribe_frame(pid: int, topic: str, qos: int) -> bytes:
    body = struct.pack("!H", pid) + utf8_field(topic.encode()) + bytes([qos])
    return b"\x82" + varint(len(body)) + body


def split_frames(buf: bytearray | bytes, start: int = 0):
    """All complete frames in buf[start:] -> ([(first byte, body start, body end)], end of the last one)."""
    out = []
    n = len(buf)
    i = start
    while i + 2 <= n:
        j = i + 1
        mult, length = 1, 0
        while True:
            if j >= n:
                return out, i
            b = buf[j]
            j += 1
            length += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult <<= 7
            if mult > 1 << 21:
                raise LoadError("malformed remaining length from the broker")
        if j + length > n:
            break
        out.append((buf[i], j, j + length))
        i = j + length
    return out, i


def open_connection(host: str, port: int, client_id: str, timeout: float = 10.0, clean: bool = True) -> socket.socket:
    """Connected MQTT 3.1.1 session (CONNACK 0 received) on a blocking socket with a timeout."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.sendall(connect_frame(client_id, clean=clean))
    data = b""
    while len(data) < 4:
        chunk = s.recv(4 - len(data))
        if not chunk:
            raise LoadError(f"{client_id}: broker closed the connection before CONNACK")
        data += chunk
    if data[0] != CONNACK or data[3] != 0:
        raise LoadError(f"{client_id}: connection refused (CONNACK {data.hex()})")
    return s


# ------------------------------------------------------------------ payloads
class Payloads:
    """Node data payloads for seq/t: `json-f` = {"seq","t","f":{"f0":..}} (one scalar per feature,
    as firmware/src/node.py sends features), `json-ch` = {"seq","t","ch":{"x":[..]}} (one window),
    `binary` = payload.py version 1 with one int8 reading, `binaryN` = N readings per message
    (seq .. seq+N-1). 256 value rows are pre-formatted."""

    KINDS = ("json-f", "json-ch", "binary", "binaryN")

    def __init__(self, kind: str, size: int, scale: float = 0.05, seed: int = 1, rows: int = 256):
        per = 1
        if kind.startswith("binary") and kind[6:].isdigit() and 1 <= int(kind[6:]) <= 4096:
            kind, per = "binary", int(kind[6:])
        if kind not in self.KINDS[:3]:
            raise ValueError(f"payload kind {kind!r}: one of {', '.join(self.KINDS)}")
        self.kind, self.size, self.per_msg = kind, size, per
        q = np.random.default_rng(seed).integers(-100, 101, (rows, size)).astype(np.int8)
        self.q = q
        self.values = q.astype(np.float64) * scale       # exactly representable after rounding to 2 decimals
        self._mask = rows - 1 if rows & (rows - 1) == 0 else None
        self._rows = rows
        if kind == "binary":
            self._parts = [struct.pack("<BBHH", 0xE1, 0, per, size)] + [r.tobytes() for r in q]
            self._pack = struct.Struct("<II").pack
        elif kind == "json-f":
            self._parts = [(",\"f\":{" + ",".join(f"\"f{i}\":{v:.2f}" for i, v in enumerate(r)) + "}}").encode()
                           for r in self.values]
        else:
            self._parts = [(",\"ch\":{\"x\":[" + ",".join(f"{v:.2f}" for v in r) + "]}}").encode()
                           for r in self.values]

    def row(self, seq: int) -> int:
        return seq % self._rows

    def features(self) -> list:
        """The route's `features`/`channels` that read these payloads in order."""
        return [f"f{i}" for i in range(self.size)] if self.kind == "json-f" else ["x"]

    def __call__(self, seq: int, t: int) -> bytes:
        r = seq % self._rows
        if self.kind == "binary":
            if self.per_msg == 1:
                return self._parts[0] + self._pack(seq & 0xFFFFFFFF, t) + self._parts[1 + r]
            p, pack, rows = self._parts, self._pack, self._rows
            return p[0] + b"".join(pack((seq + j) & 0xFFFFFFFF, t) + p[1 + (seq + j) % rows]
                                   for j in range(self.per_msg))
        return b'{"seq":%d,"t":%d%s' % (seq, t, self._parts[r])


def now_ms() -> int:
    return int(time.monotonic() * 1000) & 0xFFFFFFFF


# ------------------------------------------------------------------ generator
def generate(host: str, port: int, nodes: list, first_node: int, payload: tuple, *, duration: float,
             t_start: float, rate: float = 0.0, window: int = 0, results=None, acked=None, gen_index: int = 0,
             count: int = 0, inflight: int = 2000, chunk: int = 256, prefix: str = "ember",
             out_path: str | None = None, drain_s: float = 10.0) -> dict:
    """Publish node data at QoS 1 from one process; `nodes` are node ids (one connection each),
    `first_node` the global index of nodes[0] (for the sink's keys). Counts are readings (one per
    message except for `binaryN` payloads), `inflight` and `chunk` are messages. Modes: rate > 0
    open loop (readings/s for this process); window > 0 closed loop against results[gen_index]
    (an mp.Array the sink updates); count > 0 stops after that many readings per node. Sending starts at
    monotonic time t_start and stops after `duration` s; then PUBACKs are awaited (<= drain_s).
    Returns (and saves to out_path, .npz) sent/acked counts and the chunk records."""
    make = Payloads(*payload)
    per = make.per_msg                                 # readings per message: counts are readings
    conns = [open_connection(host, port, f"bench-{n}") for n in nodes]
    topics = [f"{prefix}/nodes/{n}/data".encode() for n in nodes]
    heads = [struct.pack("!H", len(t)) + t for t in topics]
    k = len(conns)
    seq = [0] * k
    pid = [0] * k
    unacked = [0] * k
    sent_total = 0
    acked_total = 0
    records = []                                       # (node index, first seq, count, send time)
    rbufs = [bytearray() for _ in range(k)]
    fds = {c.fileno(): i for i, c in enumerate(conns)}
    pack_pid = struct.Struct("!H").pack
    lengths = [varint(n) for n in range(16384)]

    def read_acks(timeout: float) -> None:
        nonlocal acked_total
        ready, _, _ = select.select(conns, [], [], timeout)
        for c in ready:
            i = fds[c.fileno()]
            data = c.recv(1 << 16)
            if not data:
                raise LoadError(f"node {nodes[i]}: broker closed the connection")
            buf = rbufs[i]
            buf += data
            m = len(buf) >> 2
            if not len(buf) & 3 and buf[::4] == PUBACK_BYTE * m and buf[1::4] == b"\x02" * m:
                n = m                                  # the usual case: nothing but whole PUBACKs
                buf.clear()
            else:
                frames, end = split_frames(buf)
                del buf[:end]
                n = sum(1 for first, _, _ in frames if first == PUBACK)
            unacked[i] -= n
            acked_total += n * per
        if acked is not None:
            acked[gen_index] = acked_total

    while time.monotonic() < t_start:
        time.sleep(min(0.01, max(0.0, t_start - time.monotonic())))
    t_end = t_start + duration
    rr = 0
    if rate:                                           # about one write per node every 2 ms
        min_batch, tick = max(per, min(int(rate * 0.002), chunk * k)), 0.0005
    else:
        min_batch, tick = max(per, min(window // 16, chunk * k)), 0.001
    while True:
        now = time.monotonic()
        if now >= t_end or (count and all(s >= count for s in seq)):
            break
        if rate:
            due = int((now - t_start) * rate) - sent_total
        elif window and results is not None:
            due = window - (sent_total - results[gen_index])
        else:
            due = chunk * k * per
        due = min(due, chunk * k * per)
        if due < min_batch:                            # batch: fewer, larger writes (and syscalls)
            if rate:                                   # sleep (reading PUBACKs) until the batch is due
                tick = min(0.005, max(0.0002, (sent_total + min_batch) / rate - (now - t_start)))
            read_acks(tick)
            continue
        sent_now = 0
        for _ in range(k):
            i = rr
            rr = (rr + 1) % k
            room = inflight - unacked[i]
            n = min(room, chunk, (due - sent_now) // per)   # frames; one node per write, nodes in turn
            if count:
                n = min(n, (count - seq[i]) // per)
            if n <= 0:
                continue
            s0, p0 = seq[i], pid[i]
            t = now_ms()
            head = heads[i]
            frames = []
            for j in range(n):
                p = (p0 + j) % 65535 + 1
                body = make(s0 + j * per, t)
                rl = len(head) + 2 + len(body)
                frames.append(b"\x32" + (lengths[rl] if rl < 16384 else varint(rl)) + head + pack_pid(p) + body)
            records.append((first_node + i, s0, n * per, time.monotonic()))
            conns[i].sendall(b"".join(frames))
            seq[i] = s0 + n * per
            pid[i] = (p0 + n) % 65535
            unacked[i] += n
            sent_now += n * per
            if sent_now >= due:
                break
        sent_total += sent_now
        read_acks(0.0 if sent_now else 0.0005)
    deadline = time.monotonic() + drain_s
    while any(unacked) and time.monotonic() < deadline:
        read_acks(0.05)
    for c in conns:
        try:
            c.sendall(b"\xe0\x00")                     # DISCONNECT
        except OSError:
            pass
        c.close()
    rec = np.array(records, dtype=[("node", "i8"), ("seq", "i8"), ("n", "i8"), ("t", "f8")])
    result = {"sent": sent_total, "acked": acked_total, "records": rec}
    if out_path:
        np.savez(out_path, sent=sent_total, acked=acked_total, records=rec)
    return result


# ------------------------------------------------------------------ sink
BINARY_V1 = 0xE1


def _fast_parser():
    """(FrameParser, pubacks) of runtime.core._mqtt_fast, or None when it is not built."""
    try:
        from runtime.core._mqtt_fast import FrameParser, pubacks
    except ImportError:
        return None
    return FrameParser(4, 1 << 24), pubacks


def binary_seqs(buf, p: int) -> list:
    """The seqs of a binary version 1 node payload at buf[p:] (runtime/core/payload.py)."""
    _, dt, count, n = struct.unpack_from("<BBHH", buf, p)
    step = 8 + n * (1 if dt == 0 else 4)
    return [struct.unpack_from("<I", buf, p + 6 + i * step)[0] for i in range(count)]


def collect(host: str, port: int, topic: str, node_index: dict, *, qos: int = 1, node_level: int = -1,
            stop=None, ready=None, results=None, nodes_per_gen: int = 1, expect: int = 0,
            expect_from=None, quiet_s: float = 0.3, timeout: float = 600.0, out_path: str | None = None,
            client_id: str = "bench-sink", use_c_parser: bool = True) -> dict:
    """Subscribe to `topic` and record every reading that arrives: key node_index[node] << 32 | seq
    and the receive time. The node is topic level `node_level`; readings are the `"seq":N` in the
    payload. results (mp.Array, one slot per generator) counts readings per generator for closed
    loops. Runs until `stop` (an mp.Event) is set and then either the socket was quiet for
    `quiet_s` or as many readings arrived as `expect_from` (the generators' acked counters) sums
    to; until `expect` readings arrived; or until `timeout`. Returns keys, times, frames, bytes
    (and saves them to out_path). Frames are cut by the core's C parser when it is built
    (runtime.core._mqtt_fast; `use_c_parser=False` or not built: split_frames in Python)."""
    s = open_connection(host, port, client_id)
    s.sendall(subscribe_frame(1, topic, qos))
    fast = _fast_parser() if use_c_parser else None
    keys, times = array("q"), array("d")
    buf = bytearray()
    got_suback = False
    frames_n = bytes_n = readings = 0
    per_gen = [0] * (len(results) if results is not None else 0)
    cache: dict = {}
    pack_ack = struct.Struct("!BBH").pack
    t_quiet = None
    deadline = time.monotonic() + timeout
    s.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            data = s.recv(1 << 20)
        except TimeoutError:
            if stop is not None and stop.is_set():
                if t_quiet is None:
                    t_quiet = time.monotonic()
                elif time.monotonic() - t_quiet > quiet_s or (
                        expect_from is not None and readings >= sum(expect_from[:])):
                    break
            continue
        t_quiet = None
        now = time.monotonic()
        if not data:
            raise LoadError("broker closed the sink connection")
        bytes_n += len(data)
        n_here = 0
        if fast is not None:                           # the core's C frame parser (runtime.core._mqtt_fast)
            parser, pubacks = fast
            pubs, _, others = parser.parse(data)
            if others and any(ptype == 9 for ptype, _, _ in others):
                got_suback = True
                if ready is not None:
                    ready.set()
            pids = []
            for tb, payload, pid, q in pubs:
                frames_n += 1
                if q:
                    pids.append(pid)
                idx = cache.get(tb)
                if idx is None:
                    parts = tb.split("/")
                    idx = cache[tb] = node_index.get(parts[node_level], -1) if len(parts) > 2 else -1
                if idx < 0:
                    continue
                base = idx << 32
                seqs = _SEQ.findall(payload) if payload[:1] != b"\xe1" else binary_seqs(payload, 0)
                for v in seqs:
                    keys.append(base | int(v))
                n = len(seqs)
                n_here += n
                if per_gen:
                    per_gen[idx // nodes_per_gen] += n
            if pids:
                s.sendall(pubacks(pids))
            data = b""
        buf += data
        frames, end = split_frames(buf)
        acks = []
        for first, a, b in frames:
            if first & 0xF0 != PUBLISH:
                if first == SUBACK:
                    got_suback = True
                    if ready is not None:
                        ready.set()
                continue
            frames_n += 1
            tl = (buf[a] << 8) | buf[a + 1]
            p = a + 2 + tl
            tb = bytes(buf[a + 2:p])
            if first & 0x06:
                acks.append(pack_ack(PUBACK, 2, (buf[p] << 8) | buf[p + 1]))
                p += 2
            idx = cache.get(tb)
            if idx is None:
                parts = tb.split(b"/")
                idx = node_index.get(parts[node_level].decode(errors="replace"), -1) if len(parts) > 2 else -1
                cache[tb] = idx
            if idx < 0:
                continue
            base = idx << 32
            seqs = _SEQ.findall(buf, p, b) if buf[p] != BINARY_V1 else binary_seqs(buf, p)
            for q in seqs:
                keys.append(base | int(q))
            n = len(seqs)
            n_here += n
            if per_gen:
                per_gen[idx // nodes_per_gen] += n
        del buf[:end]
        if acks:
            s.sendall(b"".join(acks))
        if n_here:
            times.extend([now] * n_here)
            readings += n_here
            if results is not None:
                for g, v in enumerate(per_gen):
                    results[g] = v
            if expect and readings >= expect:
                break
    try:
        s.sendall(b"\xe0\x00")
    except OSError:
        pass
    s.close()
    out = {"keys": np.frombuffer(keys, np.int64).copy() if keys else np.zeros(0, np.int64),
           "times": np.frombuffer(times, np.float64).copy() if times else np.zeros(0),
           "frames": frames_n, "bytes": bytes_n, "subscribed": got_suback}
    if out_path:
        np.savez(out_path, **out)
    return out


# ------------------------------------------------------------------ offline join
def send_times(records: np.ndarray, n_nodes: int) -> list:
    """Chunk records (node, seq, n, t) -> per node an array of send times indexed by seq."""
    per = []
    for node in range(n_nodes):
        r = records[records["node"] == node]
        if not len(r):
            per.append(np.zeros(0))
            continue
        r = r[np.argsort(r["seq"])]
        end = int(r["seq"][-1] + r["n"][-1])
        t = np.full(end, np.nan)
        for s0, n, ts in zip(r["seq"], r["n"], r["t"]):
            t[s0:s0 + n] = ts
        per.append(t)
    return per


def latencies(keys: np.ndarray, times: np.ndarray, per_node: list) -> np.ndarray:
    """Receive time - send time (seconds) for each received key; NaN for a key never sent."""
    node = keys >> 32
    seq = keys & 0xFFFFFFFF
    out = np.full(len(keys), np.nan)
    for i, t in enumerate(per_node):
        m = node == i
        if not m.any() or not len(t):
            continue
        s = seq[m]
        ok = s < len(t)
        sel = np.flatnonzero(m)[ok]
        out[sel] = times[sel] - t[s[ok]]
    return out


__all__ = ["LoadError", "Payloads", "collect", "connect_frame", "generate", "latencies", "open_connection",
           "publish_frame", "send_times", "split_frames", "subscribe_frame", "varint"]
