"""The node loop: sample sensors, filter per channel, queue data on the link,
apply remote config live, feed the watchdog, optionally deep sleep.

Usable from CPython too (the core's ``ember demo`` runs simulated nodes)::

    import sys; sys.path.insert(0, firmware_src)   # runtime.firmware_path.source_dir()
    from link import Link
    from node import Node
    from sensors.simulated import SimulatedEnv, SimulatedVibration
    link = Link("n1", "127.0.0.1", 1883)
    node = Node("n1", link, scalars=[SimulatedEnv()], bursts=[SimulatedVibration()])
    node.run(max_steps=100)          # or call node.step(now) / link.service() yourself

Data messages follow DESIGN.md: ``{"seq", "t", "ch", "f"}`` plus ``"drop"``,
the number of messages this node dropped from its full buffer so far.
"""
import json
from array import array

from compat import sleep_ms, ticks_add, ticks_diff, ticks_ms
from config import DEFAULT_APP, parse_app, validate_app
from filters import features


class Node:
    def __init__(self, node_id, link, scalars=(), bursts=(), app=None, wdt=None, sleeper=None):
        self.node_id = node_id
        self.link = link
        self.scalars = list(scalars)
        self.bursts = list(bursts)
        self.scalar_names = [n for s in self.scalars for n in s.names]
        self.window_names = [s.names[0] for s in self.bursts]
        names = self.scalar_names + self.window_names
        for n in names:
            if names.count(n) > 1:
                raise ValueError("channel %s comes from two sensors: give one of them other names" % n)
        self.wdt = wdt
        self.sleeper = sleeper  # object with save(bytes), load() -> bytes|None, deepsleep(ms)
        self.seq = 0
        self.steps = 0
        self.accepted = 0
        self.rejected = 0
        self._cfg_raw = None
        self.app = validate_app(app or DEFAULT_APP, self.scalar_names, self.window_names,
                                sleeper is not None)
        self._oldbufs = {}
        self._apply(self.app, first=True)
        link.subscribe(link.topic_config, self._on_config)

    # --- configuration ---------------------------------------------------
    def _apply(self, app, first=False):
        old = None if first else self.app
        self.app = app
        self.bufs = {}
        for name, n in app.windows.items():
            if old and name in old.windows and old.windows[name] == n:
                self.bufs[name] = self._oldbufs[name]
            else:
                self.bufs[name] = array("f", [0.0] * n)
        self._oldbufs = self.bufs

    def _parse(self, payload):
        return parse_app(payload, self.scalar_names, self.window_names, self.sleeper is not None)

    def _on_config(self, topic, payload, retained):
        if not payload or payload == self._cfg_raw:
            return  # cleared, or the same retained config redelivered after a reconnect
        try:
            app = self._parse(payload)
        except ValueError as e:
            self.rejected += 1
            ack = {}
            ack["accepted"] = False
            ack["reason"] = str(e)
            try:
                v = json.loads(payload).get("v")
                if v is not None:
                    ack["v"] = v
            except Exception:
                pass
            self.link.send_control(self.link.topic_ack, json.dumps(ack))
            return
        self._apply(app)
        self._cfg_raw = payload
        self.accepted += 1
        ack = {}
        ack["accepted"] = True
        if app.version is not None:
            ack["v"] = app.version
        self.link.send_control(self.link.topic_ack, json.dumps(ack))

    # --- sampling --------------------------------------------------------
    def step(self, now=None):
        """Take one sample of every sensor; queue a data message if any
        channel passed its filters. Returns the message (str) or None."""
        if now is None:
            now = ticks_ms()
        self.steps += 1
        ch = {}
        f = {}
        chains = self.app.chains
        for s in self.scalars:
            values = s.read()
            names = s.names
            for k in range(len(names)):
                out = chains[names[k]].update(values[k], now)
                if out is not None:
                    ch[names[k]] = out
        for s in self.bursts:
            name = s.names[0]
            buf = self.bufs[name]
            s.burst(buf)
            mean, rms, peak, crest = features(buf)
            f[name + "_mean"] = mean
            f[name + "_rms"] = rms
            f[name + "_peak"] = peak
            f[name + "_crest"] = crest
            if self.app.raw[name]:
                ch[name] = list(buf)
        if not ch and not f:
            return None
        msg = json.dumps({"seq": self.seq, "t": now, "ch": ch, "f": f, "drop": self.link.dropped})
        self.seq += 1
        self.link.send_data(msg)
        return msg

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def flush(self, timeout_ms=5000):
        """Service the link until the buffer is empty or the timeout passes."""
        t0 = ticks_ms()
        while self.link.pending and ticks_diff(ticks_ms(), t0) < timeout_ms:
            if not self.link.service(20):
                sleep_ms(20)
            self.feed()
        return self.link.pending == 0

    def run(self, max_steps=0):
        """Sample every ``period_ms`` (forever, or ``max_steps`` times),
        servicing the link in between; never blocks longer than a socket timeout."""
        next_t = ticks_ms()
        while True:
            now = ticks_ms()
            if ticks_diff(now, next_t) >= 0:
                self.step(now)
                next_t = ticks_add(next_t, self.app.period_ms)
                if ticks_diff(now, next_t) > 0:  # overran a whole period: do not burst to catch up
                    next_t = ticks_add(now, self.app.period_ms)
                if max_steps and self.steps >= max_steps:
                    return
                if self.app.sleep_ms and self.sleeper is not None:
                    self.sleep()
            wait = ticks_diff(next_t, ticks_ms())
            wait = 0 if wait < 0 else (50 if wait > 50 else wait)
            if not self.link.service(wait) and wait:
                sleep_ms(wait)
            self.feed()

    # --- deep sleep ------------------------------------------------------
    def state(self):
        """What must survive deep sleep (RTC memory is small: keep it short)."""
        db = {}
        for name, chain in self.app.chains.items():
            for st in chain.stages:
                if hasattr(st, "delta") and st.last is not None:
                    db[name] = st.last
        return json.dumps({"seq": self.seq, "cfg": self._cfg_raw.decode() if self._cfg_raw else None,
                           "db": db}).encode()

    def restore(self, blob):
        """Restore ``state()`` output after waking up. Bad blobs are ignored."""
        try:
            d = json.loads(blob)
            if d.get("cfg"):
                raw = d["cfg"].encode()
                self._apply(self._parse(raw))
                self._cfg_raw = raw
            self.seq = int(d["seq"])
            for name, last in d.get("db", {}).items():
                chain = self.app.chains.get(name)
                for st in chain.stages if chain else ():
                    if hasattr(st, "delta"):
                        st.last = last
                        st.last_t = ticks_ms()
            return True
        except (ValueError, KeyError, TypeError, AttributeError):
            return False

    def sleep(self):
        sleeper = self.sleeper
        if sleeper is None:
            return
        self.flush()
        self.feed()
        self.link.close()
        sleeper.save(self.state())
        sleeper.deepsleep(self.app.sleep_ms)
