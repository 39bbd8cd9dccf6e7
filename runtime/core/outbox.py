"""Durable on-disk outbox: store-and-forward of messages to a cloud broker.

Interface (used by the core service):

    box = Outbox(path, max_messages=100_000, max_bytes=64 << 20, max_age_s=7 * 86400,
                 overflow="reject-new" | "drop-oldest", synchronous="FULL" | "NORMAL")
    msg_id = box.put(topic, payload, qos=1)   # durable when it returns -> then ack upstream
    ids = box.put_many([(topic, payload, qos), ...])   # one transaction (one fsync) for a batch
    box.put_many([(topic, payload, qos, msg_id), ...]) # caller-chosen ids (see stable_msg_id)
    box.depth(), box.pending_bytes(), box.stats()      # stats(): dict of gauges + counters
    box.close()

    sender = UplinkSender(box, host, port, client_id="core-1", tls=None | ssl.SSLContext,
                          username=None, password=None, topic_prefix="", protocol=5 | 4,
                          backoff=Backoff(initial_s=0.5, max_s=60.0), clock=time.monotonic,
                          sleep=time.sleep)
    sender.start() / sender.stop()           # background thread; or call sender.run_once()
    sender.stats()                           # state, connects, failures, sent, ...

    dedupe = Deduper(capacity=1_000_000)     # receiver side (cloud / tests)
    if dedupe.accept(message_id(mqtt_message)): handle(message_body(mqtt_message))

Semantics
- Storage is SQLite in WAL mode. `put` commits before returning; with synchronous=FULL (the
  default) the commit is fsynced, so an acknowledged message survives power loss, not only a
  process crash. synchronous="NORMAL" is faster in WAL mode and still survives a crash of the
  process (kill -9), but the last commits may be lost if the machine loses power.
- Every message has an id, the `ember-msg-id` a receiver drops duplicates by. By default it is
  unique: "<outbox-instance-uuid>-<sequence>"; the instance uuid is stored in the database, the
  sequence is an AUTOINCREMENT rowid (never reused), so ids stay unique across restarts. A
  message that can be stored again after a crash (a result recomputed from a redelivered node
  message, a capture segment shipped again) is put with a caller-chosen id from
  `stable_msg_id(key, body)` that is the same every time the same logical message is stored, so
  the copies also dedupe. The row's `seq` stays the outbox's own internal key. With protocol=5 (default) the sender carries it in the MQTT 5 user
  property `ember-msg-id` (payload untouched); with protocol=4 (MQTT 3.1.1, no properties) it
  prefixes the payload with the line `ember-msg-id:<id>\n`. Receivers use
  `message_id(msg)` / `message_body(msg)`, which understand both.
- Delivery is at-least-once: the sender publishes at QoS 1 (the stored qos is recorded, uplink
  is always QoS >= 1) and deletes a message only after its PUBACK with a success reason code.
  Every (re)connection uses a fresh paho client with clean_start and republishes from the
  oldest undeleted message, so nothing depends on paho's in-memory queue or on a broker bridge.
  A receiver drops duplicates with `Deduper`.
- Bounds: count (`max_messages`), bytes (`max_bytes`, payload + topic), age (`max_age_s`;
  older messages are deleted and counted as `expired`). When a put would exceed a bound:
  `reject-new` raises OutboxFullError (counted `rejected`); `drop-oldest` deletes the oldest
  messages until the new one fits (counted `dropped`). A message larger than max_bytes alone is
  always rejected.
- One process owns an outbox file at a time (an flock on `<path>.lock`; a second opener gets
  OutboxError). The lock dies with the process, so a restart after kill -9 just works.
- While the link is down the sender retries with exponential backoff (injectable clock/sleep,
  so tests can simulate minutes of outage).
"""
from __future__ import annotations

import collections
import fcntl
import hashlib
import random
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from runtime.errors import EmberError

MSG_ID_PROPERTY = "ember-msg-id"
MSG_ID_PREFIX = b"ember-msg-id:"
OVERFLOW_POLICIES = ("reject-new", "drop-oldest")


class OutboxError(EmberError):
    """The outbox cannot be opened or used (bad configuration, locked, message too big)."""


class OutboxFullError(OutboxError):
    """The outbox is at a bound and its overflow policy is reject-new."""


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    msg_id: str
    topic: str
    payload: bytes
    qos: int
    created: float


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    created REAL NOT NULL,
    msg_id TEXT
);
"""
MAX_MSG_ID_CHARS = 128          # split_payload reads an id line of at most this many characters
_STABLE_KEY_CHARS = 100         # longer keys (or not printable ASCII) are hashed by stable_msg_id


def stable_msg_id(key: str, body=b"") -> str:
    """An uplink message id that is the same whenever the same logical message is stored again.

    `key` names the message (a result's rid "node:model:t:seq", a capture segment), `body` is
    what it was made from (the node message's payload, the segment's bytes): the id is
    `<key>#<16 hex digits of blake2b(body)>`, so the copy of a result recomputed after a core
    crash gets the id of the first one, while a different message that reuses the key (a node
    that rebooted and restarted seq and t) gets another. A key longer than 100 characters or
    not printable ASCII gives `h:<32 hex digits of blake2b(key, body)>` instead. Ids made by
    the outbox itself ("<uuid hex>-<seq>") contain neither '#' nor ':', so the forms never meet.
    """
    if not isinstance(key, str) or not key:
        raise OutboxError(f"stable_msg_id needs a non-empty str key, got {key!r}")
    try:
        body = memoryview(body)
    except TypeError:
        raise OutboxError(f"stable_msg_id body must be bytes-like, got {type(body).__name__}") from None
    if len(key) <= _STABLE_KEY_CHARS and key.isascii() and key.isprintable() and " " not in key:
        return f"{key}#{hashlib.blake2b(body, digest_size=8).hexdigest()}"
    kb = key.encode("utf-8", "surrogatepass")
    h = hashlib.blake2b(len(kb).to_bytes(8, "big") + kb, digest_size=16)
    h.update(body)
    return "h:" + h.hexdigest()


def _check_msg_id(msg_id) -> str:
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= MAX_MSG_ID_CHARS \
            or not msg_id.isascii() or not msg_id.isprintable() or " " in msg_id:
        raise OutboxError(f"a message id must be 1..{MAX_MSG_ID_CHARS} printable ASCII characters "
                          f"without spaces, got {msg_id!r}")
    return msg_id


def _as_bytes(payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    raise OutboxError(f"payload must be bytes or str, got {type(payload).__name__}")


class Outbox:
    """SQLite-backed, bounded, durable FIFO of (topic, payload, qos). Thread-safe."""

    def __init__(self, path: str, *, max_messages: int = 100_000, max_bytes: int = 64 << 20,
                 max_age_s: float | None = 7 * 86400, overflow: str = "reject-new",
                 synchronous: str = "FULL", clock: Callable[[], float] = time.time):
        if overflow not in OVERFLOW_POLICIES:
            raise OutboxError(f"overflow policy must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise OutboxError(f"synchronous must be FULL, EXTRA or NORMAL, got {synchronous!r}")
        if int(max_messages) < 1 or int(max_bytes) < 1:
            raise OutboxError("max_messages and max_bytes must be >= 1")
        if max_age_s is not None and max_age_s <= 0:
            raise OutboxError("max_age_s must be > 0 or None")
        self.path = str(path)
        self.max_messages = int(max_messages)
        self.max_bytes = int(max_bytes)
        self.max_age_s = max_age_s
        self.overflow = overflow
        self._clock = clock
        self._lock = threading.RLock()
        self._counters = collections.Counter()
        self._lockfile = self._acquire_file_lock()
        self._db = None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       timeout=10.0)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"{self.path}: cannot enable WAL mode (got {mode})")
            self._sync = synchronous.upper()
            self._db.execute(f"PRAGMA synchronous={self._sync}")
            self._db.executescript(_SCHEMA)
            columns = [r[1] for r in self._db.execute("PRAGMA table_info(messages)")]
            if "msg_id" not in columns:     # an outbox written before ids could be chosen
                self._db.execute("ALTER TABLE messages ADD COLUMN msg_id TEXT")
            row = self._db.execute("SELECT value FROM meta WHERE key='instance'").fetchone()
            if row is None:
                self.instance = uuid.uuid4().hex
                self._db.execute("INSERT INTO meta VALUES ('instance', ?)", (self.instance,))
            else:
                self.instance = row[0]
            n, nbytes = self._db.execute(
                "SELECT count(*), coalesce(sum(length(payload) + length(CAST(topic AS BLOB))), 0)"
                " FROM messages").fetchone()
        except (sqlite3.DatabaseError, OutboxError) as e:
            if getattr(self, "_db", None) is not None:
                self._db.close()
            self._release_file_lock()
            if isinstance(e, OutboxError):
                raise
            raise OutboxError(f"{self.path}: cannot open outbox database: {e}") from e
        self._count = int(n)
        self._bytes = int(nbytes)
        self._closed = False

    # -- file lock ---------------------------------------------------------------------------
    def _acquire_file_lock(self):
        f = open(self.path + ".lock", "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise OutboxError(f"{self.path} is in use by another process") from None
        return f

    def _release_file_lock(self):
        if self._lockfile is not None:
            fcntl.flock(self._lockfile.fileno(), fcntl.LOCK_UN)
            self._lockfile.close()
            self._lockfile = None

    # -- writing -----------------------------------------------------------------------------
    def msg_id(self, seq: int) -> str:
        return f"{self.instance}-{seq}"

    def put(self, topic: str, payload, qos: int = 1, msg_id: str | None = None) -> str:
        """Persist one message (durable when this returns) and return its id (`msg_id` when
        given, e.g. from stable_msg_id, else a new unique one)."""
        return self.put_many([(topic, payload, qos, msg_id)])[0]

    def put_many(self, items: Iterable[tuple]) -> list[str]:
        """Persist several (topic, payload[, qos[, msg_id]]) in one transaction; all or none are
        stored. Returns their ids."""
        rows = []
        for item in items:
            item = tuple(item)
            if len(item) == 2:
                item += (1,)
            if len(item) == 3:
                item += (None,)
            if len(item) != 4:
                raise OutboxError(f"outbox items are (topic, payload[, qos[, msg_id]]), got {len(item)} fields")
            topic, payload, qos, msg_id = item
            if msg_id is not None:
                _check_msg_id(msg_id)
            if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
                raise OutboxError(f"invalid publish topic {topic!r}")
            if qos not in (0, 1, 2):
                raise OutboxError(f"qos must be 0, 1 or 2, got {qos!r}")
            data = _as_bytes(payload)
            size = len(data) + len(topic.encode("utf-8"))
            if size > self.max_bytes:
                self._counters["rejected"] += 1
                raise OutboxFullError(f"message of {size} bytes exceeds the outbox bound of {self.max_bytes} bytes")
            rows.append((topic, data, int(qos), size, msg_id))
        if not rows:
            return []
        with self._lock:
            self._check_open()
            now = self._clock()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._expire_locked(now)
                need_n = self._count + len(rows) - self.max_messages
                need_b = self._bytes + sum(r[3] for r in rows) - self.max_bytes
                if len(rows) > self.max_messages:
                    raise OutboxFullError(f"batch of {len(rows)} exceeds max_messages={self.max_messages}")
                if need_n > 0 or need_b > 0:
                    if self.overflow == "reject-new":
                        raise OutboxFullError(
                            f"outbox full ({self._count} messages, {self._bytes} bytes; bounds "
                            f"{self.max_messages} messages, {self.max_bytes} bytes); policy reject-new")
                    self._drop_oldest_locked(need_n, need_b)
                ids = []
                for topic, data, qos, size, msg_id in rows:
                    cur = self._db.execute(
                        "INSERT INTO messages (topic, payload, qos, created, msg_id) VALUES (?, ?, ?, ?, ?)",
                        (topic, data, qos, now, msg_id))
                    ids.append(msg_id or self.msg_id(cur.lastrowid))
                self._db.execute("COMMIT")
            except OutboxFullError:
                self._db.execute("ROLLBACK")
                self._reload_totals_locked()
                self._counters["rejected"] += len(rows)
                raise
            except BaseException:
                self._db.execute("ROLLBACK")
                self._reload_totals_locked()
                raise
            self._count += len(rows)
            self._bytes += sum(r[3] for r in rows)
            self._counters["put"] += len(rows)
            return ids

    def _drop_oldest_locked(self, need_n: int, need_b: int) -> None:
        dropped = 0
        freed = 0
        for seq, size in self._db.execute(
                "SELECT seq, length(payload) + length(CAST(topic AS BLOB)) FROM messages ORDER BY seq"):
            if dropped >= need_n and freed >= need_b:
                break
            dropped += 1
            freed += size
            last = seq
        if dropped:
            self._db.execute("DELETE FROM messages WHERE seq <= ?", (last,))
            self._count -= dropped
            self._bytes -= freed
            self._counters["dropped"] += dropped

    def _expire_locked(self, now: float) -> int:
        if self.max_age_s is None or self._count == 0:
            return 0
        cutoff = now - self.max_age_s
        row = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload) + length(CAST(topic AS BLOB))), 0)"
            " FROM messages WHERE created < ?", (cutoff,)).fetchone()
        if row[0]:
            self._db.execute("DELETE FROM messages WHERE created < ?", (cutoff,))
            self._count -= row[0]
            self._bytes -= row[1]
            self._counters["expired"] += row[0]
        return int(row[0])

    def _reload_totals_locked(self) -> None:
        n, b = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload) + length(CAST(topic AS BLOB))), 0)"
            " FROM messages").fetchone()
        self._count, self._bytes = int(n), int(b)

    def expire(self) -> int:
        """Delete messages older than max_age_s; returns how many."""
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                n = self._expire_locked(self._clock())
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._reload_totals_locked()
                raise
            return n

    # -- reading / acknowledging ---------------------------------------------------------------
    def peek(self, after_seq: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """The oldest `limit` messages with seq > after_seq, oldest first."""
        with self._lock:
            self._check_open()
            rows = self._db.execute(
                "SELECT seq, topic, payload, qos, created, msg_id FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                (int(after_seq), int(limit))).fetchall()
        return [OutboxMessage(seq, msg_id or self.msg_id(seq), topic, bytes(payload), qos, created)
                for seq, topic, payload, qos, created, msg_id in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete delivered messages by seq (missing seqs are ignored); returns how many deleted."""
        seqs = sorted(set(int(s) for s in seqs))
        if not seqs:
            return 0
        with self._lock:
            self._check_open()
            # A lost deletion only means a resend (deduplicated by id), so acks need no fsync of
            # their own: they commit with synchronous=NORMAL and reach the disk with the next
            # fsynced put (WAL frames are written in order).
            if self._sync != "NORMAL":
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                deleted = 0
                freed = 0
                for i in range(0, len(seqs), 500):
                    chunk = seqs[i:i + 500]
                    marks = ",".join("?" * len(chunk))
                    n, b = self._db.execute(
                        f"SELECT count(*), coalesce(sum(length(payload) + length(CAST(topic AS BLOB))), 0)"
                        f" FROM messages WHERE seq IN ({marks})", chunk).fetchone()
                    self._db.execute(f"DELETE FROM messages WHERE seq IN ({marks})", chunk)
                    deleted += n
                    freed += b
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._reload_totals_locked()
                raise
            finally:
                if self._sync != "NORMAL":
                    self._db.execute(f"PRAGMA synchronous={self._sync}")
            self._count -= deleted
            self._bytes -= freed
            self._counters["sent"] += deleted
            return deleted

    # -- gauges ------------------------------------------------------------------------------
    def depth(self) -> int:
        return self._count

    def pending_bytes(self) -> int:
        return self._bytes

    def oldest_age_s(self) -> float | None:
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT min(created) FROM messages").fetchone()
        return None if row[0] is None else max(0.0, self._clock() - row[0])

    def stats(self) -> dict:
        return {
            "depth": self._count,
            "bytes": self._bytes,
            "oldest_age_s": self.oldest_age_s(),
            "max_messages": self.max_messages,
            "max_bytes": self.max_bytes,
            "max_age_s": self.max_age_s,
            "overflow": self.overflow,
            "put": self._counters["put"],
            "sent": self._counters["sent"],
            "rejected": self._counters["rejected"],
            "dropped": self._counters["dropped"],
            "expired": self._counters["expired"],
        }

    # -- lifecycle ---------------------------------------------------------------------------
    def _check_open(self):
        if self._closed:
            raise OutboxError(f"outbox {self.path} is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            self._release_file_lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Backoff:
    """Exponential backoff: initial_s, ×factor per failure, capped at max_s, ± jitter fraction."""

    def __init__(self, initial_s: float = 0.5, max_s: float = 60.0, factor: float = 2.0,
                 jitter: float = 0.1, rng: random.Random | None = None):
        if initial_s <= 0 or max_s < initial_s or factor < 1 or not 0 <= jitter < 1:
            raise OutboxError("backoff needs 0 < initial_s <= max_s, factor >= 1, 0 <= jitter < 1")
        self.initial_s, self.max_s, self.factor, self.jitter = initial_s, max_s, factor, jitter
        self._rng = rng or random.Random()
        self._failures = 0

    def next_delay(self) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** self._failures)
        self._failures += 1
        if self.jitter:
            base *= 1 + self._rng.uniform(-self.jitter, self.jitter)
        return base

    def reset(self) -> None:
        self._failures = 0


class UplinkSender:
    """Publishes the outbox to a cloud broker (MQTT 5, QoS 1); deletes only after PUBACK."""

    def __init__(self, outbox: Outbox, host: str, port: int = 1883, *, client_id: str = "ember-core",
                 tls=None, username: str | None = None, password: str | None = None,
                 topic_prefix: str = "", protocol: int = 5, window: int = 100, keepalive: int = 30,
                 connect_timeout_s: float = 5.0, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 expire_every_s: float = 60.0):
        import paho.mqtt.client  # noqa: F401  (fail early if paho is missing)
        self.outbox = outbox
        self.host, self.port = host, int(port)
        self.client_id = client_id
        self.tls, self.username, self.password = tls, username, password
        self.topic_prefix = topic_prefix
        if protocol not in (4, 5):
            raise OutboxError(f"uplink protocol must be 5 (MQTT 5) or 4 (MQTT 3.1.1), got {protocol!r}")
        self.protocol = protocol
        self.window = max(1, int(window))
        self.keepalive = keepalive
        self.connect_timeout_s = connect_timeout_s
        self.backoff = backoff or Backoff()
        self._clock, self._sleep = clock, sleep
        self.expire_every_s = expire_every_s
        self._client = None
        self._connected = False
        self._inflight: dict[int, int] = {}    # paho mid -> outbox seq
        self._acked: list[int] = []
        self._cursor = 0                        # highest seq published on this connection
        self._next_attempt = 0.0
        self._next_expire = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counters = collections.Counter()
        self.last_error: str | None = None

    # -- connection ------------------------------------------------------------------------
    def _new_client(self):
        import paho.mqtt.client as mqtt
        if self.protocol == 5:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                            protocol=mqtt.MQTTv5)
        else:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                            protocol=mqtt.MQTTv311, clean_session=True)
        c.connect_timeout = self.connect_timeout_s
        c.max_inflight_messages_set(self.window)
        c.max_queued_messages_set(self.window)
        if self.username is not None:
            c.username_pw_set(self.username, self.password)
        if self.tls is not None:
            c.tls_set_context(self.tls)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        return c

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if client is not self._client:
            return
        if reason_code.is_failure:
            self.last_error = f"connect refused: {reason_code}"
            self._connected = False
        else:
            self._connected = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if client is self._client:
            self._connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        if client is not self._client:
            return
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return
        if reason_code.is_failure:
            # Broker refused it (quota, not authorized...): keep it, retry after a reconnect.
            self._counters["puback_failures"] += 1
            self.last_error = f"PUBACK failure for seq {seq}: {reason_code}"
            self._connected = False
            return
        self._acked.append(seq)

    def _try_connect(self) -> bool:
        client = self._new_client()
        self._client = client
        self._connected = False
        self._counters["connect_attempts"] += 1
        try:
            if self.protocol == 5:
                client.connect(self.host, self.port, keepalive=self.keepalive, clean_start=True)
            else:
                client.connect(self.host, self.port, keepalive=self.keepalive)
            deadline = time.monotonic() + self.connect_timeout_s
            while not self._connected and time.monotonic() < deadline:
                rc = client.loop(timeout=0.05)
                if rc != 0:
                    break
        except (OSError, ValueError) as e:
            self.last_error = f"connect to {self.host}:{self.port} failed: {e}"
        if not self._connected:
            self._drop_client()
            self._counters["connect_failures"] += 1
            return False
        self._counters["connects"] += 1
        self._inflight.clear()
        self._cursor = 0
        self.backoff.reset()
        return True

    def _drop_client(self):
        c, self._client = self._client, None
        self._connected = False
        self._inflight.clear()
        if c is not None:
            try:
                c.disconnect()
            except Exception:  # the socket may already be gone
                pass
            try:
                c.loop(timeout=0.01)
            except Exception:
                pass
            try:
                c.socket() and c.socket().close()
            except Exception:
                pass

    # -- one iteration -----------------------------------------------------------------------
    def run_once(self) -> None:
        """One step of the sender: (re)connect with backoff, publish a window, process PUBACKs."""
        now = self._clock()
        if now >= self._next_expire:
            self.outbox.expire()
            self._next_expire = now + self.expire_every_s
        if self._client is None:
            if now < self._next_attempt:
                self._sleep(min(self._next_attempt - now, 0.05))
                return
            if not self._try_connect():
                self._next_attempt = self._clock() + self.backoff.next_delay()
                return
        client = self._client
        self._fill_window(client)
        try:
            rc = client.loop(timeout=0.02)
        except (OSError, ValueError) as e:
            self.last_error = f"network error: {e}"
            rc = -1
        self._flush_acks()
        if rc != 0 or not self._connected:
            self._counters["disconnects"] += 1
            self._drop_client()
            self._next_attempt = self._clock() + self.backoff.next_delay()

    def _fill_window(self, client) -> None:
        free = self.window - len(self._inflight)
        if free <= 0 or not self._connected:
            return
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        for m in self.outbox.peek(self._cursor, free):
            if self.protocol == 5:
                props = Properties(PacketTypes.PUBLISH)
                props.UserProperty = (MSG_ID_PROPERTY, m.msg_id)
                info = client.publish(self.topic_prefix + m.topic, m.payload, qos=max(1, m.qos),
                                      properties=props)
            else:
                info = client.publish(self.topic_prefix + m.topic, wrap_payload(m.msg_id, m.payload),
                                      qos=max(1, m.qos))
            if info.rc != 0:
                self.last_error = f"publish failed rc={info.rc}"
                self._connected = False
                return
            self._inflight[info.mid] = m.seq
            self._cursor = m.seq
            self._counters["published"] += 1

    def _flush_acks(self) -> None:
        if self._acked:
            acked, self._acked = self._acked, []
            self.outbox.ack(acked)
            self._counters["acked"] += len(acked)

    # -- thread ------------------------------------------------------------------------------
    def start(self) -> "UplinkSender":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ember-uplink", daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                self.run_once()
            except OutboxError as e:   # closed outbox: stop quietly
                self.last_error = str(e)
                break
            except Exception as e:     # never let the uplink thread die silently
                self.last_error = f"{type(e).__name__}: {e}"
                self._counters["errors"] += 1
                self._drop_client()
                self._next_attempt = self._clock() + self.backoff.next_delay()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._drop_client()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._connected

    def stats(self) -> dict:
        return {"connected": self.connected, "inflight": len(self._inflight),
                "connect_attempts": self._counters["connect_attempts"],
                "connects": self._counters["connects"],
                "connect_failures": self._counters["connect_failures"],
                "disconnects": self._counters["disconnects"],
                "published": self._counters["published"], "acked": self._counters["acked"],
                "puback_failures": self._counters["puback_failures"],
                "errors": self._counters["errors"], "last_error": self.last_error}


def wrap_payload(msg_id: str, payload: bytes) -> bytes:
    """MQTT 3.1.1 form: the id line `ember-msg-id:<id>\n` followed by the payload."""
    return MSG_ID_PREFIX + msg_id.encode("ascii") + b"\n" + payload


def split_payload(payload: bytes) -> tuple[str | None, bytes]:
    """(id, body) of a payload made by wrap_payload; (None, payload) for any other payload."""
    payload = bytes(payload)
    if payload.startswith(MSG_ID_PREFIX):
        end = payload.find(b"\n", len(MSG_ID_PREFIX))
        if 0 < end <= len(MSG_ID_PREFIX) + 128:
            try:
                return payload[len(MSG_ID_PREFIX):end].decode("ascii"), payload[end + 1:]
            except UnicodeDecodeError:
                pass
    return None, payload


def message_id(message) -> str | None:
    """The uplink id of a received paho message: the MQTT 5 `ember-msg-id` user property, else
    the MQTT 3.1.1 payload prefix; None when it has neither."""
    props = getattr(message, "properties", None)
    for key, value in (getattr(props, "UserProperty", None) or []):
        if key == MSG_ID_PROPERTY:
            return value
    return split_payload(message.payload)[0]


def message_body(message) -> bytes:
    """The payload of a received uplink message without an MQTT 3.1.1 id prefix."""
    return split_payload(message.payload)[1]


class Deduper:
    """Receiver-side duplicate filter over uplink message ids. Thread-safe.

    In memory (default): remembers the last `capacity` ids (LRU).
    With `path`: a SQLite file remembers the last `capacity` ids first seen (FIFO), so a
    receiver that restarts still drops duplicates of what it handled before.

    `accept(id)` marks and answers "new?" in one step. For exactly-once *effects* across a
    receiver crash, use `seen(id)` -> handle -> `mark(id)` (a crash between handle and mark
    gives one more delivery, which the handler must tolerate or make idempotent).
    """

    def __init__(self, capacity: int = 1_000_000, path: str | None = None):
        if capacity < 1:
            raise OutboxError("Deduper capacity must be >= 1")
        self.capacity = capacity
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.duplicates = 0
        self.accepted = 0
        self._db = None
        if path is not None:
            try:
                self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                                           timeout=10.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS seen "
                                 "(n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE)")
            except sqlite3.DatabaseError as e:
                raise OutboxError(f"{path}: cannot open dedupe database: {e}") from None

    def seen(self, msg_id: str | None) -> bool:
        """Whether the id was marked before (an id of None never counts as seen)."""
        if msg_id is None:
            return False
        with self._lock:
            if self._db is not None:
                return self._db.execute("SELECT 1 FROM seen WHERE id = ?", (msg_id,)).fetchone() is not None
            return msg_id in self._seen

    def mark(self, msg_id: str | None) -> bool:
        """Remember the id; returns True when it was new."""
        if msg_id is None:
            return True
        with self._lock:
            if self._db is not None:
                cur = self._db.execute("INSERT OR IGNORE INTO seen (id) VALUES (?)", (msg_id,))
                if cur.rowcount == 1 and cur.lastrowid % 1024 == 0:
                    self._db.execute("DELETE FROM seen WHERE n <= ?", (cur.lastrowid - self.capacity,))
                return cur.rowcount == 1
            if msg_id in self._seen:
                self._seen.move_to_end(msg_id)
                return False
            self._seen[msg_id] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True

    def accept(self, msg_id: str | None) -> bool:
        """True the first time an id is seen (handle the message); False for a duplicate.
        Messages without an id cannot be deduplicated and are always accepted."""
        new = self.mark(msg_id)
        if new:
            self.accepted += 1
        else:
            self.duplicates += 1
        return new

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
