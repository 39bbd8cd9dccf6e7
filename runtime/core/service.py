"""The core service: MQTT ingest -> routing -> batched inference -> results, liveness, status.

Threads:
  * node data arrives on the lean ingest connection (runtime/core/ingest.py,
    `broker.ingest` = auto/lean): its I/O thread parses whole recv() buffers in C
    and appends every message of a read to the inbox at once; while the inbox
    holds `queue_limit` messages or `queue_bytes` bytes (payload + MSG_OVERHEAD
    each) it stops reading
    the socket (back-pressure, counted as `ingest_paused`): unacknowledged QoS 1
    messages wait at the broker, nothing is dropped. With `broker.ingest = "paho"`
    paho's network thread appends each message in `_on_message` instead (beyond
    the bounds the oldest is dropped and counted as `queue_overflow`);
  * paho's network thread: control topics (node status, config acks,
    deployments), the core's status and Last Will;
  * the worker: drains everything that has arrived, decodes it, groups readings
    per model, runs each group as one batch, publishes results, then
    acknowledges the node messages (manual PUBACK, so a QoS 1 message the
    core had not finished is redelivered by the broker after a crash). Results
    a full outbox refused (uplink overflow = reject-new) are kept with their
    node messages unacknowledged and stored as room appears (then acknowledged);
    while they fill the inbox's budget no more node data is taken. On the
    lean connections the result PUBLISHes go out on the results socket after
    they were persisted in the uplink outbox, and the batch's PUBACKs follow on
    the data socket once those results are written;
  * the housekeeper: publishes the retained core status every
    `status_interval_s` seconds.
Nothing a node sends can stop the service: every failure is counted under a
named counter and logged (rate-limited).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import defaultdict, deque

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..errors import EmberError
from .config import ConfigError, CoreConfig
from .models import ModelLoadError, ServedModel, default_loader
from .payload import BadInput, Block, decode

log = logging.getLogger("ember.core")

try:   # C decoder of the plain JSON reading and C result encoder (Cython, optional: else json)
    from ._mqtt_fast import ReadingDecoder as _ReadingDecoder, result_json as _result_json
except ImportError:
    _ReadingDecoder = _result_json = None


def _json_plain(s: str) -> bool:
    """True when json.dumps writes `s` as it is between quotes (printable ASCII, no quote/backslash)."""
    return s.isascii() and s.isprintable() and '"' not in s and "\\" not in s


def _json_head(node: str, model: str, version: str) -> bytes:
    """`{"node":..,"model":..,"version":..,` for the C result encoder, or b"" if escaping is needed."""
    if not (_json_plain(node) and _json_plain(model) and _json_plain(version)):
        return b""
    return f'{{"node":"{node}","model":"{model}","version":"{version}",'.encode()

COUNTERS = ("received", "readings", "results", "bad_json", "bad_payload", "wrong_size", "missing_value",
            "unknown_node", "inference_error", "queue_overflow", "publish_error", "uplink_rejected",
            "nodes_untracked", "internal_error", "ingest_paused", "ingest_reconnects", "protocol_error",
            "result_backpressure")


MAX_NODES = 10_000
# One worker batch: at most this many node messages / payload bytes. Decoded readings, results and
# their JSON take ~10-20x the payload bytes while a batch is processed, so the byte bound keeps
# the core's peak memory down (a 4096-message batch of JSON readings held ~10 MB; 4096 one-reading
# binary messages, ~8 MB).
BATCH_ITEMS = 1024
BATCH_BYTES = 128 << 10
# What a queued node message costs besides its payload bytes (its tuple, topic str, bytes header,
# packet id int, deque slot): counted in the inbox's byte budget (`queue_bytes`), so the budget
# bounds memory, not only payload, whatever the message size.
MSG_OVERHEAD = 256


def topics(prefix: str) -> dict:
    return {
        "data": f"{prefix}/nodes/+/data",
        "status": f"{prefix}/nodes/+/status",
        "ack": f"{prefix}/nodes/+/config/ack",
    }


class NodeState:
    __slots__ = ("online", "last_seen", "msgs", "rate", "_last_count", "config_ack")

    def __init__(self):
        self.online = None          # None: never announced; True/False from retained status / LWT
        self.last_seen = 0.0        # wall clock seconds
        self.msgs = 0
        self.rate = 0.0
        self._last_count = 0
        self.config_ack = None

    def describe(self) -> dict:
        return {"online": self.online, "last_seen": round(self.last_seen, 3), "msgs": self.msgs,
                "msgs_per_s": round(self.rate, 2), "config_ack": self.config_ack}


class _RateLimitedLog:
    def __init__(self):
        self._n = defaultdict(int)

    def __call__(self, kind: str, msg: str, *args) -> None:
        n = self._n[kind] = self._n[kind] + 1
        if n <= 10 or n % 1000 == 0:
            log.warning("[%s #%d] " + msg, kind, n, *args)


class Core:
    """One core worker. `Core(cfg).start()`, then `.stop()`; or `.run()` to block."""

    def __init__(self, cfg: CoreConfig, loader=default_loader, result_hook=None, extensions: bool = True):
        self.cfg = cfg
        self.loader = loader
        self.result_hook = result_hook          # called with (topic, dict) for every result (tests, demo)
        self.prefix = cfg.prefix
        self.counters = {k: 0 for k in COUNTERS}
        self.nodes: dict[str, NodeState] = {}
        self.models: dict[str, ServedModel] = {}
        self._route_cache: dict[str, list] = {}
        self._inbox: deque = deque()
        self._inbox_bytes = 0                   # payload + MSG_OVERHEAD per message (bounded by cfg.queue_bytes)
        self._inbox_lock = threading.Lock()
        self._processing = False                # the worker is in _process (ingest: coalesce reads)
        self.ingest = None                      # ingest.IngestConnection when node data uses the lean path
        self._out_results: list = []            # lean path: (topic, payload) to send with the batch's PUBACKs
        self._out_pids: list = []
        self._out_gen = 0
        self._decoders: dict = {}               # model name -> (ServedModel, C JSON reading decoder or None)
        self._heads: dict = {}                  # (node, model, version) -> result JSON head (C encoder)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._gen = 0                           # connection generation (stale mids are not acked)
        self._connected = threading.Event()
        self._ready = threading.Event()         # connected and subscribed
        self._sub_mid = -1
        self._local_broker = None
        self.broker_host, self.broker_port = cfg.broker.host, cfg.broker.port
        self.client: mqtt.Client | None = None
        self._warn = _RateLimitedLog()
        self._started = 0.0
        self._last_status = (0.0, 0)
        self.msgs_per_s = 0.0
        self.uplink = None                      # integrations.Uplink when [uplink] is configured
        self.extensions = []                    # objects with .status() -> dict and .close()
        self.attach_extensions = extensions
        self.on_results = []                    # fn(model name, version, ok count, failed count)
        self.on_batch = []                      # fn(ServedModel, nodes, x int8, raw outputs, seconds,
        #                                         values: x's readings in feature units, float32)
        self._handlers = {}                     # exact topic -> callable(payload) (deployments)
        # Batches whose results a full outbox refused (overflow = reject-new): [node messages,
        # uplink rows, rows stored so far, their payload bytes], oldest first. Their node messages stay unacknowledged;
        # the worker stores the rows as room appears, then acknowledges (see _retry_parked).
        self._parked: deque = deque()
        self._parked_msgs = 0
        self._parked_bytes = 0
        self._refused: list | None = None       # uplink rows _publish_results could not store

    # ------------------------------------------------------------ lifecycle
    def load_models(self) -> None:
        for route in self.cfg.models:
            self.models[route.name] = ServedModel.load(route, self.loader)
            m = self.models[route.name]
            log.info("model %s version %s loaded (%s, input %s)", m.name, m.version, route.path, m.in_shape)
        self._route_cache.clear()

    def start(self) -> "Core":
        self._started = time.time()
        self._last_status = (time.monotonic(), 0)
        self.load_models()
        if self.attach_extensions:
            from . import integrations
            integrations.attach(self)
        if not self.cfg.broker.host:
            from .local_broker import start_local_broker   # asyncio only when a local broker runs

            b = start_local_broker(self.cfg.broker.local, self.cfg.broker.port,
                                   data_dir=self.cfg.broker.local_data_dir or None)
            self._local_broker = b
            self.broker_host, self.broker_port = b.host, b.port
            log.info("started local %s broker on %s:%d", b.kind, b.host, b.port)
        self.client = self._make_client()
        if self.use_lean_ingest():
            self.ingest = self._make_ingest().start()
        self.client.connect_async(self.broker_host, self.broker_port, self.cfg.broker.keepalive,
                                  **self._connect_kwargs())
        self.client.loop_start()
        for target, name in ((self._work, "ember-core-worker"), (self._housekeep, "ember-core-status")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once connected and subscribed (node data sent from now on is served)."""
        deadline = time.monotonic() + timeout
        if not self._ready.wait(timeout):
            return False
        return self.ingest is None or self.ingest.ready.wait(max(0.0, deadline - time.monotonic()))

    def use_lean_ingest(self) -> bool:
        """Node data on the lean connection (broker.ingest: auto = when the C parser is built)."""
        mode = self.cfg.broker.ingest
        if mode == "paho":
            return False
        try:
            import importlib
            importlib.import_module(".ingest", __package__)   # needs the Cython module runtime.core._mqtt_fast
        except ImportError as e:
            if mode == "lean":
                raise ConfigError(f"broker.ingest = 'lean' needs the compiled module runtime.core._mqtt_fast "
                                  f"(build the project with Cython installed): {e}") from None
            log.warning("runtime.core._mqtt_fast is not built (%s): node data goes through paho", e)
            return False
        return True

    def _data_filter(self) -> str:
        data = topics(self.prefix)["data"]
        if self.cfg.broker.shared_group:
            data = f"$share/{self.cfg.broker.shared_group}/{data}"
        return data

    def _make_ingest(self):
        from .ingest import IngestConnection
        b = self.cfg.broker
        ctx = None
        if b.tls_ca or b.tls_cert:                # the same TLS settings as the paho connection
            import ssl
            ctx = ssl.create_default_context(cafile=b.tls_ca or None)
            if b.tls_cert:
                ctx.load_cert_chain(b.tls_cert, b.tls_key or None)
        base = b.client_id or f"ember-core-{self.cfg.id}"
        return IngestConnection(
            self.broker_host, self.broker_port, base + "-ingest", self._data_filter(), self._deliver, self._has_room,
            self.counters, protocol=b.protocol, keepalive=b.keepalive, username=b.username,
            password=b.password, ssl_context=ctx, result_qos=self.cfg.result_qos,
            recv_size=max(4096, min(1 << 16, self.cfg.queue_bytes)), results_client_id=base + "-results")

    def _has_room(self) -> bool:
        return len(self._inbox) < self.cfg.queue_limit and self._inbox_bytes < self.cfg.queue_bytes

    def _deliver(self, items: list, nbytes: int) -> bool:
        with self._inbox_lock:
            busy = self._processing or bool(self._inbox)
            self._inbox.extend(items)
            self._inbox_bytes += nbytes + MSG_OVERHEAD * len(items)
        if not self._wake.is_set():
            self._wake.set()
        return busy

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        if self.ingest is not None:
            self.ingest.release_waiters()
        for t in self._threads:
            t.join(10)
        if self.ingest is not None:
            self.ingest.close()
        if self.client is not None:
            try:
                if self._connected.is_set():
                    info = self.client.publish(self.status_topic, json.dumps(self._offline()), 1, True)
                    info.wait_for_publish(2)
                self.client.disconnect()
            except (RuntimeError, ValueError, OSError):
                pass
            self.client.loop_stop()
        for ext in self.extensions:
            try:
                ext.close()
            except Exception:
                log.exception("closing %r failed", ext)
        if self._local_broker is not None:
            self._local_broker.close()
            self._local_broker = None

    def run(self) -> None:
        """Block until interrupted (Ctrl-C / SIGTERM via KeyboardInterrupt or stop())."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    # ------------------------------------------------------------ MQTT
    @property
    def status_topic(self) -> str:
        return f"{self.prefix}/cores/{self.cfg.id}/status"

    def _offline(self) -> dict:
        return {"core": self.cfg.id, "online": False, "time": round(time.time(), 3)}

    def _make_client(self) -> mqtt.Client:
        b = self.cfg.broker
        cid = b.client_id or f"ember-core-{self.cfg.id}"
        if b.protocol == 5:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5,
                            manual_ack=True)
        else:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv311,
                            clean_session=False, manual_ack=True)
        if b.username:
            c.username_pw_set(b.username, b.password or None)
        if b.tls_ca or b.tls_cert:
            c.tls_set(ca_certs=b.tls_ca or None, certfile=b.tls_cert or None, keyfile=b.tls_key or None)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.1, 5)
        c.will_set(self.status_topic, json.dumps(self._offline()), 1, True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_connect_fail = lambda client, userdata: self._warn(
            "broker_unreachable", "cannot connect to the broker at %s:%s; retrying", self.broker_host, self.broker_port)
        return c

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid == self._sub_mid:
            bad = [rc for rc in reason_codes if rc.is_failure]
            if bad:
                log.error("broker refused subscriptions: %s", bad)
            self._ready.set()

    def _connect_kwargs(self) -> dict:
        if self.cfg.broker.protocol != 5:
            return {}
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 7 * 24 * 3600   # keep the session (and queued data) across restarts
        props.ReceiveMaximum = 1000
        return {"clean_start": False, "properties": props}

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self._gen += 1
        t = topics(self.prefix)
        data = self._data_filter()
        subs = [(t["status"], 1), (t["ack"], 1)] + [(h, 1) for h in self._handlers]
        if self.ingest is None:
            subs.insert(0, (data, 1))
        else:   # node data is on the ingest connection; drop it from a session of an older setup
            client.unsubscribe(data)
        _, self._sub_mid = client.subscribe(subs)
        for node, conf in self.cfg.nodes.items():
            client.publish(f"{self.prefix}/nodes/{node}/config", json.dumps(conf, sort_keys=True), 1, True)
        self._connected.set()
        self._publish_status()
        log.info("connected to %s:%d (session present: %s)", self.broker_host, self.broker_port,
                 getattr(flags, "session_present", False))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        self._ready.clear()
        if not self._stop.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        topic = msg.topic
        if topic.endswith("/data"):
            inbox = self._inbox
            payload = msg.payload
            with self._inbox_lock:
                while inbox and (len(inbox) >= self.cfg.queue_limit or self._inbox_bytes >= self.cfg.queue_bytes):
                    self._inbox_bytes -= len(inbox.popleft()[1]) + MSG_OVERHEAD
                    self.counters["queue_overflow"] += 1
                inbox.append((topic, payload, time.monotonic(), msg.mid, msg.qos, self._gen))
                self._inbox_bytes += len(payload) + MSG_OVERHEAD
            if not self._wake.is_set():
                self._wake.set()
            return
        try:
            self._on_control(topic, msg.payload, msg.retain)
        except Exception:  # a control message must never kill the network thread
            self.counters["internal_error"] += 1
            log.exception("error handling %s", topic)
        finally:
            if msg.qos:
                client.ack(msg.mid, msg.qos)

    def _on_control(self, topic: str, payload: bytes, retained: bool = False) -> None:
        handler = self._handlers.get(topic)
        if handler is not None:
            handler(payload)
            return
        parts = topic.split("/")
        if len(parts) < 4 or parts[-3] != "nodes" and parts[-4] != "nodes":
            return
        if topic.endswith("/config/ack"):
            node = parts[-3]
            try:
                ack = json.loads(payload)
            except ValueError:
                ack = payload.decode("utf-8", "replace")
            self._node(node).config_ack = ack
        elif topic.endswith("/status"):
            node = parts[-2]
            state = self._node(node)
            text = payload.decode("utf-8", "replace").strip()
            if text.startswith("{"):
                try:
                    d = json.loads(text)
                    text = "online" if d.get("online", d.get("status") == "online") else "offline"
                except (ValueError, AttributeError):
                    text = ""
            if text in ("online", "offline"):
                state.online = text == "online"
                if not retained:      # a retained status is old news: it does not say when
                    state.last_seen = time.time()
            elif payload:
                self.counters["bad_payload"] += 1
                self._warn("bad_payload", "node %s: status %r is neither online nor offline", node, text[:40])

    def add_handler(self, topic: str, fn) -> None:
        """Route an exact control topic to fn(payload) (subscribed on every connect)."""
        self._handlers[topic] = fn
        if self.client is not None and self._connected.is_set():
            self.client.subscribe(topic, 1)

    def _node(self, node: str) -> NodeState:
        st = self.nodes.get(node)
        if st is None:
            st = NodeState()
            if len(self.nodes) < MAX_NODES:   # bounded: a flood of made-up node ids cannot grow it
                self.nodes[node] = st
            else:
                self.counters["nodes_untracked"] += 1
        return st

    # ------------------------------------------------------------ inference path
    def routes_for(self, node: str) -> list:
        r = self._route_cache.get(node)
        if r is None:
            if len(self._route_cache) >= MAX_NODES:
                self._route_cache.clear()
            r = self._route_cache[node] = [m.name for m in self.cfg.routes_for(node) if m.name in self.models]
        return r

    def replace_model(self, served: ServedModel) -> None:
        """Atomically swap the model serving a route (the worker picks it up at its next batch)."""
        self.models[served.name] = served
        self._route_cache.clear()

    def _bad(self, kind: str, node: str, msg: str) -> None:
        self.counters[kind] += 1
        self._warn(kind, "node %s: %s", node, msg)

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if self._parked:
                self._retry_parked()
            if self.cfg.batch_wait_ms and self._inbox:
                time.sleep(self.cfg.batch_wait_ms / 1000.0)
            while self._inbox and not self._stop.is_set():
                if self._parked:
                    self._retry_parked()
                    if self._parked_full():    # back-pressure: node data waits at the broker
                        break
                items = []
                inbox = self._inbox
                with self._inbox_lock:
                    size = 0
                    while inbox and len(items) < BATCH_ITEMS and size < BATCH_BYTES:
                        it = inbox.popleft()
                        items.append(it)
                        size += len(it[1])
                    self._inbox_bytes -= size + MSG_OVERHEAD * len(items)
                if self.ingest is not None:
                    self.ingest.resume()
                self._processing = True
                try:
                    self._process(items)
                except Exception:  # keep serving whatever happens
                    self.counters["internal_error"] += 1
                    log.exception("internal error processing a batch of %d messages", len(items))
                    self._out_results.clear()
                    self._ack(items)
                    self._flush()
                finally:
                    self._processing = False

    def _process(self, items: list) -> None:
        groups: dict[str, list] = defaultdict(list)   # model -> [[item index, seqs, ts, int8 rows, block,
        #                                                           float rows in feature units or None]]
        models = dict(self.models)                     # one version per batch, even during a deployment
        now_wall = time.time()
        for i, (topic, payload, _, _, _, _) in enumerate(items):
            node = topic.rsplit("/", 2)[-2]
            self.counters["received"] += 1
            st = self._node(node)
            st.msgs += 1
            st.last_seen = now_wall
            if st.online is None:
                st.online = True
            routes = self.routes_for(node)
            if not routes:
                self._bad("unknown_node", node, "no model is configured for this node")
                continue
            if payload[:1] == b"{":
                fast = self._fast_rows(payload, routes, models)
                if fast is not None:                   # plain JSON reading decoded in C
                    self.counters["readings"] += 1
                    for name, (seq, t, row) in zip(routes, fast):
                        groups[name].append([i, [seq], [t], row, False, None])
                    continue
            try:
                r = decode(payload)
            except BadInput as e:
                self._bad(e.kind, node, str(e))
                continue
            self.counters["readings"] += r.count
            block = isinstance(r, Block)
            seqs, ts = (r.seqs, r.ts) if block else ([r.seq], [r.t])
            for name in routes:
                try:   # binary blocks are quantized here; JSON rows all at once below
                    groups[name].append([i, seqs, ts, models[name].vectors(r) if block else models[name].floats(r),
                                         block, r.values if block and not r.quantized else None])
                except BadInput as e:
                    self._bad(e.kind, node, str(e))
        results = {}                                   # (item index, model) -> [result dict]
        hooks = self.on_batch
        for name, blocks in list(groups.items()):
            if not blocks:
                continue
            model = models[name]
            floats = [b for b in blocks if not b[4]]
            values = None                              # (rows, size) float32 in feature units, for hooks
            if floats:
                q, ok, f = model.quantize_rows([b[3] for b in floats], keep_floats=True)
                rows_q = iter(q)
                if hooks and len(floats) == len(blocks):
                    values = f                         # JSON readings only: their finite float rows
                mixed = hooks and values is None       # JSON and binary readings: rows per block
                j = 0
                for b, good in zip(floats, ok.tolist()):
                    if good:
                        b[3] = next(rows_q).reshape(1, -1)
                        if mixed:
                            b[5] = f[j:j + 1]
                            j += 1
                    else:
                        b[3] = None
                        self._bad("bad_payload", items[b[0]][0].rsplit("/", 2)[-2],
                                  f"model {name}: values must be finite numbers")
                blocks = [b for b in blocks if b[3] is not None]
                if not blocks:
                    continue
            x = blocks[0][3] if len(blocks) == 1 else np.concatenate([b[3] for b in blocks])
            if hooks and values is None:               # int8 binary readings: dequantized, normalisation undone
                if all(b[5] is None for b in blocks):
                    values = model.feature_values(x)
                else:
                    parts = [b[5] if b[5] is not None else model.feature_values(b[3]) for b in blocks]
                    values = parts[0] if len(parts) == 1 else np.concatenate(parts)
            owners = [b[0] for b in blocks for _ in range(b[3].shape[0])]
            rows = []
            step = model.route.max_batch
            for s in range(0, x.shape[0], step):
                xc = x[s:s + step]
                n = xc.shape[0]
                t0 = time.perf_counter()
                try:
                    raw = model.run(xc)
                except (EmberError, ValueError) as e:
                    model.errors += n
                    self.counters["inference_error"] += n
                    self._warn("inference_error", "model %s: %s", name, e)
                    for fn in self.on_results:
                        fn(name, model.version, 0, n)
                    rows.extend([None] * n)
                    continue
                dt = time.perf_counter() - t0
                for fn in self.on_results:
                    fn(name, model.version, n, 0)
                for fn in hooks:
                    try:
                        fn(model, [items[i][0].rsplit("/", 2)[-2] for i in owners[s:s + n]], xc, raw, dt,
                           values[s:s + n])
                    except Exception:
                        log.exception("batch hook failed")
                model.infer_time.add_many([dt / n] * min(n, 8))
                model.requests += n
                rows.extend(model.interpret(raw))
            j = 0
            for i, seqs, ts, _, _, _ in blocks:
                out = []
                for seq, t in zip(seqs, ts):
                    res = rows[j]
                    j += 1
                    if res is not None:
                        res["seq"], res["t"] = seq, t
                        out.append(res)
                if out:
                    results[(i, name)] = out
        self._refused = None
        if self._publish_results(items, results, models):
            self._ack(items)
        elif self._refused is not None:
            self._park(items, self._refused)
            self._refused = None
        self._flush()

    # ------------------------------------------------------------ results a full outbox refused
    def _park(self, items: list, rows: list) -> None:
        """Keep a batch whose results the outbox refused (reject-new): its node messages stay
        unacknowledged until _retry_parked stored the results. A broker resends unacknowledged
        messages only after a reconnection, so leaving them alone would hold these results back
        until the next one (a core restart, a broker outage) however long the link is fine."""
        nbytes = sum(len(it[1]) for it in items) + sum(len(r[1]) for r in rows)
        self._parked.append([items, rows, 0, nbytes])
        self._parked_msgs += len(items)
        self._parked_bytes += nbytes

    def _parked_full(self) -> bool:
        """The parked batches use the inbox's budget again: then no more node data is taken."""
        return bool(self._parked) and (
            self._parked_msgs >= self.cfg.queue_limit
            or self._parked_bytes + MSG_OVERHEAD * self._parked_msgs >= self.cfg.queue_bytes)

    def _retry_parked(self) -> None:
        """Store parked results as the outbox has room (oldest first; a batch may go in parts),
        then acknowledge their node messages (worker thread)."""
        from .outbox import OutboxError
        box = self.uplink.outbox
        while self._parked and not self._stop.is_set():
            entry = self._parked[0]
            items, rows, done, nbytes = entry
            while done < len(rows):
                topic, data = rows[done][0], rows[done][1]
                if len(data) + len(topic.encode()) > box.max_bytes:   # can never fit: do not wait
                    self.counters["uplink_rejected"] += 1
                    self._warn("uplink_rejected", "a result of %d bytes exceeds the outbox's max_bytes", len(data))
                    done += 1
                    continue
                room = box.max_messages - box.depth()
                if room <= 0:
                    entry[2] = done
                    return
                chunk = rows[done:done + room]
                try:
                    box.put_many(chunk)
                except OutboxError:            # still full (bytes bound) or closing: later
                    entry[2] = done
                    return
                except Exception as e:         # e.g. a disk error: keep the worker alive, retry later
                    entry[2] = done
                    self._warn("uplink_retry", "storing refused results failed: %s", e)
                    return
                done += len(chunk)
            self._parked.popleft()
            self._parked_msgs -= len(items)
            self._parked_bytes -= nbytes
            self._ack(items)
            self._flush()

    def _fast_rows(self, payload: bytes, routes: list, models: dict):
        """[(seq, t, float32 row)] per route from the C JSON reading decoder, or None (general path)."""
        out = []
        for name in routes:
            served = models[name]
            entry = self._decoders.get(name)
            if entry is None or entry[0] is not served:
                entry = self._decoders[name] = (served, self._make_decoder(served))
            if entry[1] is None:
                return None
            r = entry[1].decode(payload)
            if r is None:
                return None
            out.append(r)
        return out

    @staticmethod
    def _make_decoder(served):
        if not (served.features or served.channels) or _ReadingDecoder is None:
            return None
        return _ReadingDecoder(served.features, served.channels, served.size)

    def _publish_results(self, items: list, results: dict, models: dict) -> bool:
        qos = self.cfg.result_qos
        done = time.monotonic()
        outgoing = []
        sources = []                                # (rid, node payload) per result, for the uplink id
        hook = self.result_hook
        fast = _result_json is not None
        heads = self._heads
        if len(heads) > MAX_NODES:
            heads.clear()
        for (i, name), rows in results.items():
            topic, payload, t_recv, _, _, _ = items[i]
            node = topic.rsplit("/", 2)[-2]
            model = models[name]
            lat = done - t_recv
            model.latency.add_many((lat,))
            out_topic = f"{self.prefix}/results/{name}/{node}"
            lat_ms = round(lat * 1e3, 3)
            # rid: the same node message always gives the same id, so a receiver can drop the
            # duplicates a redelivery (core crash before the PUBACK) produces.
            if len(rows) == 1 and payload[:1] == b"{":
                r = rows[0]
                rid = f"{node}:{name}:{r['t']}:{r['seq']}"
                data = None
                if fast:   # the same bytes as json.dumps of the dict below, written in C
                    key = (node, name, model.version)
                    head = heads.get(key)
                    if head is None:
                        head = heads[key] = _json_head(node, name, model.version)
                    label = r.get("label")
                    if head and (label is None or _json_plain(label)):
                        try:
                            data = _result_json(head, r["q"], r["outputs"], r["score"], label, r["seq"], r["t"],
                                                lat_ms, rid.encode())
                        except (OverflowError, TypeError):
                            data = None
                msg = None
                if data is None or hook is not None:
                    msg = {"node": node, "model": name, "version": model.version, **r,
                           "latency_ms": lat_ms, "rid": rid}
                if data is None:
                    data = json.dumps(msg, separators=(",", ":")).encode()
            else:
                rid = f"{node}:{name}:{rows[0]['t']}:{rows[0]['seq']}+{len(rows)}"
                msg = {"node": node, "model": name, "version": model.version, "results": rows,
                       "latency_ms": lat_ms, "rid": rid}
                data = json.dumps(msg, separators=(",", ":")).encode()
            self.counters["results"] += len(rows)
            outgoing.append((out_topic, msg, data))
            sources.append((rid, payload))
        stored = True
        if self.uplink is not None and outgoing:    # durable before the node message is acknowledged
            result_id = self.uplink.result_id
            rows = [(t, d, 1, result_id(rid, p)) for (t, _, d), (rid, p) in zip(outgoing, sources)]
            stored = self.uplink.put(rows)
            if not stored:
                self._refused = rows
        if self.ingest is not None:                    # sent with the batch's PUBACKs (_flush)
            self._out_results.extend((t, d) for t, _, d in outgoing)
            if hook is not None:
                for out_topic, msg, _ in outgoing:
                    hook(out_topic, msg)
            return stored
        for out_topic, msg, data in outgoing:
            try:
                info = self.client.publish(out_topic, data, qos)
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    self.counters["publish_error"] += 1
            except (ValueError, RuntimeError) as e:
                self.counters["publish_error"] += 1
                self._warn("publish_error", "%s: %s", out_topic, e)
            if hook is not None:
                hook(out_topic, msg)
        return stored

    def _ack(self, items: list) -> None:
        if self.ingest is not None:
            gen = self._out_gen = self.ingest.generation
            self._out_pids.extend(mid for _, _, _, mid, qos, g in items if qos and g == gen)
            return
        gen = self._gen
        client = self.client
        for _, _, _, mid, qos, g in items:
            if qos and g == gen:
                try:
                    client.ack(mid, qos)
                except (ValueError, RuntimeError, OSError):
                    pass

    def _flush(self) -> None:
        """Lean path: the batch's result PUBLISHes, then its PUBACKs (sent once the results are written)."""
        if self.ingest is None or not (self._out_results or self._out_pids):
            return
        results, pids = self._out_results, self._out_pids
        self._out_results, self._out_pids = [], []
        self.ingest.submit(results, pids, self._out_gen)

    # ------------------------------------------------------------ status
    def snapshot(self) -> dict:
        now_wall = time.time()
        outbox = None
        ext = {}
        for e in self.extensions:
            try:
                ext.update(e.status())
            except Exception:
                log.exception("status of %r failed", e)
        if "outbox" in ext:
            outbox = ext.pop("outbox")
        return {
            "core": self.cfg.id, "online": True, "time": round(now_wall, 3),
            "uptime_s": round(now_wall - self._started, 1), "pid": os.getpid(),
            "broker": f"{self.broker_host}:{self.broker_port}",
            "msgs_per_s": round(self.msgs_per_s, 2), "queue": len(self._inbox),
            "queue_bytes": self._inbox_bytes, "uplink_parked": self._parked_msgs,
            "ingest": "paho" if self.ingest is None else {"lean": self.ingest.status()},
            "counters": dict(self.counters),
            "nodes": {n: s.describe() for n, s in sorted(self.nodes.items())},
            "models": [m.describe() for m in self.models.values()],
            "outbox": outbox, **ext,
        }

    def _update_rates(self) -> None:
        now = time.monotonic()
        last_t, last_n = self._last_status
        n = self.counters["received"]
        if last_t and now > last_t:
            dt = max(now - last_t, 1e-6)
            self.msgs_per_s = (n - last_n) / dt
            for st in list(self.nodes.values()):
                st.rate = (st.msgs - st._last_count) / dt
                st._last_count = st.msgs
        self._last_status = (now, n)

    def _publish_status(self) -> None:
        if self.client is None or not self._connected.is_set():
            return
        try:
            self.client.publish(self.status_topic, json.dumps(self.snapshot(), separators=(",", ":")), 1, True)
        except (ValueError, RuntimeError) as e:
            log.warning("cannot publish status: %s", e)

    def _housekeep(self) -> None:
        interval = self.cfg.status_interval_s
        while not self._stop.wait(interval):
            self._update_rates()
            self._publish_status()


__all__ = ["Core", "ModelLoadError"]
