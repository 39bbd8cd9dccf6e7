"""Per-model statistics for drift monitoring, in bounded memory.

Interface:

    reg = StatsRegistry(max_features=256)
    s = reg.get("kws", "1.2.0", input_names=[...], class_names=[...])   # created on first use
    s.record(inputs, outputs, latency_s, classes=None, errors=0)
        # inputs: (batch, ...) the samples' input values, in the units drift is watched in (the
        # core passes the readings' feature values, see integrations.CaptureAndStats);
        # outputs: (batch, ...) model outputs; latency_s: seconds per request, one for every
        # sample of the batch or one per sample; classes: optional class index per sample
        # (default argmax of the outputs, or output > 0.5 for a single output value).
    s.record_error()
    snap = s.snapshot(reset_window=True)    # JSON-able dict (see below)
    reg.snapshot_all()                      # {model: snapshot}

    pub = StatsPublisher(reg, publish=lambda topic, payload: ..., topic_prefix="ember/stats/core-1",
                         interval_s=60, clock=time.monotonic)
    pub.tick()                              # publishes when interval_s has passed; returns count
    pub.start() / pub.stop()                # or a background thread calling tick()

Snapshot: {"model", "version", "t", "requests" (total), "errors" (total), "window": {
    "requests", "errors", "latency_ms": {"p50", "p99", "mean", "max"},
    "input": {"features", "count", "names": [...], "mean": [...], "std": [...]},  # per feature
    "classes": {"yes": n, "no": n, ...}}}                            # output class histogram
`names[i]` names `mean[i]`/`std[i]` (input_names; positions "0", "1", ... without them; a group
of averaged values is named "first..last"); `std` is the sample standard deviation (n - 1).
Classes are keyed by class_names[index] (the index as a string without a name).
Each publication covers the window since the previous one (drift shows up between windows);
totals are cumulative.

Latency uses a log-bucket histogram (ratio 1.04 between bucket edges, 1 µs .. 1000 s): fixed
memory, percentiles within ±2% of the true value. Input statistics use Welford/Chan parallel
updates per feature (numerically stable, one pass). Models with more than `max_features` input
values per sample have them averaged in groups of ceil(values / max_features) consecutive values
first (at most `max_features` groups).
"""
from __future__ import annotations

import json
import math
import threading
import time
from typing import Callable

import numpy as np

from runtime.errors import EmberError


class StatsError(EmberError):
    """Statistics input with the wrong shape or type."""


class LatencyHistogram:
    """Log-spaced histogram of positive durations (seconds); percentile error <= ratio/2."""

    def __init__(self, lo: float = 1e-6, hi: float = 1e3, ratio: float = 1.04):
        self.lo, self.ratio = lo, ratio
        self._log_ratio = math.log(ratio)
        self.nbins = int(math.ceil(math.log(hi / lo) / self._log_ratio)) + 2   # + under/overflow
        self.counts = np.zeros(self.nbins, np.int64)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, values, repeat: int = 1) -> None:
        """Count each value `repeat` times."""
        v = np.asarray(values, np.float64).ravel()
        if v.size == 0 or repeat <= 0:
            return
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise StatsError("latencies must be finite and >= 0")
        idx = np.where(v < self.lo, 0,
                       np.minimum(self.nbins - 1,
                                  1 + np.floor(np.log(np.maximum(v, self.lo) / self.lo) / self._log_ratio)))
        np.add.at(self.counts, idx.astype(np.int64), repeat)
        self.count += v.size * repeat
        self.total += float(v.sum()) * repeat
        self.max = max(self.max, float(v.max()))

    def percentile(self, q: float) -> float:
        if self.count == 0:
            return 0.0
        rank = q / 100.0 * self.count
        cum = np.cumsum(self.counts)
        b = int(np.searchsorted(cum, max(rank, 1), side="left"))
        if b == 0:
            return self.lo
        lo_edge = self.lo * self.ratio ** (b - 1)
        return min(lo_edge * math.sqrt(self.ratio), self.max)   # geometric middle of the bucket

    def reset(self) -> None:
        self.counts[:] = 0
        self.count, self.total, self.max = 0, 0.0, 0.0


class Welford:
    """Running per-feature mean and variance (Chan et al. batch merge of Welford's method)."""

    def __init__(self, features: int):
        self.features = features
        self.n = 0
        self.mean = np.zeros(features, np.float64)
        self.m2 = np.zeros(features, np.float64)

    def add(self, x) -> None:
        x = np.asarray(x, np.float64).reshape(-1, self.features)
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(axis=0)
        m2b = ((x - mb) ** 2).sum(axis=0)
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta ** 2 * (self.n * nb / n)
        self.n = n

    def std(self) -> np.ndarray:
        """Sample standard deviation (n - 1); zeros while n < 2."""
        if self.n < 2:
            return np.zeros(self.features)
        return np.sqrt(np.maximum(self.m2 / (self.n - 1), 0.0))

    def reset(self) -> None:
        self.n = 0
        self.mean[:] = 0
        self.m2[:] = 0


def _edges(features: int, max_features: int) -> list[int]:
    """Group boundaries: ceil(features / max_features) consecutive values per group (the last
    group may be shorter), so at most max_features groups."""
    k = -(-features // max_features)
    return list(range(0, features, k)) + [features]


def _group(x: np.ndarray, features: int, max_features: int) -> np.ndarray:
    """(batch, features) -> (batch, groups) float64: each group's average (x itself when
    features <= max_features). A reshape and one sum, not a per-group loop: this runs per batch."""
    if features <= max_features:
        return x.astype(np.float64, copy=False)
    k = -(-features // max_features)
    full = features // k
    batch = x.shape[0]
    head = x[:, :full * k]
    if k <= 16:                        # numpy reduces a short last axis slowly: add k strided columns
        g = head[:, 0::k].astype(np.float64)
        for j in range(1, k):
            g += head[:, j::k]
    else:
        g = head.reshape(batch, full, k).sum(axis=2, dtype=np.float64)
    g /= k
    if full * k < features:
        g = np.concatenate([g, x[:, full * k:].mean(axis=1, dtype=np.float64, keepdims=True)], axis=1)
    return g


def _group_names(names, features: int, max_features: int) -> list[str]:
    """The name of each (possibly averaged) feature: names[i], or "first..last" for a group."""
    if names is None or len(names) != features:
        names = [str(i) for i in range(features)]
    if features <= max_features:
        return [str(n) for n in names]
    e = _edges(features, max_features)
    return [str(names[a]) if b - a == 1 else f"{names[a]}..{names[b - 1]}" for a, b in zip(e[:-1], e[1:])]


class ModelStats:
    def __init__(self, model: str, version: str, max_features: int = 256, clock=time.time,
                 input_names=None, class_names=None):
        self.model, self.version = model, version
        self.max_features = max_features
        self.input_names = list(input_names) if input_names is not None else None
        self.class_names = [str(c) for c in class_names] if class_names is not None else []
        self._names: list[str] = []
        self._clock = clock
        self._lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self._w_requests = 0
        self._w_errors = 0
        self.latency = LatencyHistogram()
        self._features: int | None = None
        self._welford: Welford | None = None
        self._classes = np.zeros(0, np.int64)     # count per class index

    def record(self, inputs, outputs, latency_s, classes=None, errors: int = 0) -> None:
        x = np.asarray(inputs)
        y = np.asarray(outputs)
        if x.ndim == 0 or y.ndim == 0:
            raise StatsError("inputs and outputs need a batch dimension")
        batch = x.shape[0]
        if y.shape[0] != batch:
            raise StatsError(f"inputs have batch {batch}, outputs {y.shape[0]}")
        x2 = x.reshape(batch, -1)
        if classes is None:
            y2 = y.reshape(batch, -1)
            classes = (y2[:, 0] > 0.5).astype(np.int64) if y2.shape[1] == 1 else y2.argmax(axis=1)
        classes = np.asarray(classes, np.int64).ravel()
        if classes.size != batch:
            raise StatsError(f"{classes.size} classes for a batch of {batch}")
        if batch and classes.min() < 0:
            raise StatsError("class indices must be >= 0")
        lat = np.asarray(latency_s, np.float64).ravel()
        if lat.size not in (1, batch):
            raise StatsError(f"{lat.size} latencies for a batch of {batch}")
        counts = np.bincount(classes) if batch else None
        with self._lock:
            if self._features is None:
                self._features = x2.shape[1]
                self._welford = Welford(len(_edges(self._features, self.max_features)) - 1)
                self._names = _group_names(self.input_names, self._features, self.max_features)
            elif x2.shape[1] != self._features:
                raise StatsError(f"model {self.model}: input has {x2.shape[1]} values per sample, "
                                 f"earlier {self._features}")
            self._welford.add(_group(x2, self._features, self.max_features))
            self.latency.add(lat, batch if lat.size == 1 else 1)
            if counts is not None:
                if counts.size > self._classes.size:
                    self._classes = np.concatenate([self._classes, np.zeros(counts.size - self._classes.size,
                                                                            np.int64)])
                self._classes[:counts.size] += counts
            self.requests += batch
            self._w_requests += batch
            self.errors += errors
            self._w_errors += errors

    def _class_histogram(self) -> dict:
        out: dict[str, int] = {}
        names = self.class_names
        for i in np.flatnonzero(self._classes).tolist():
            key = names[i] if i < len(names) else str(i)
            out[key] = out.get(key, 0) + int(self._classes[i])
        return out

    def record_error(self, n: int = 1) -> None:
        with self._lock:
            self.errors += n
            self._w_errors += n

    def snapshot(self, reset_window: bool = False) -> dict:
        with self._lock:
            w = self._welford
            snap = {
                "model": self.model, "version": self.version, "t": self._clock(),
                "requests": self.requests, "errors": self.errors,
                "window": {
                    "requests": self._w_requests, "errors": self._w_errors,
                    "latency_ms": {
                        "p50": self.latency.percentile(50) * 1e3,
                        "p99": self.latency.percentile(99) * 1e3,
                        "mean": (self.latency.total / self.latency.count * 1e3) if self.latency.count else 0.0,
                        "max": self.latency.max * 1e3},
                    "input": {"features": self._features or 0, "count": w.n if w else 0,
                              "names": list(self._names),
                              "mean": [round(float(v), 6) for v in w.mean] if w else [],
                              "std": [round(float(v), 6) for v in w.std()] if w else []},
                    "classes": self._class_histogram(),
                },
            }
            if reset_window:
                self._w_requests = self._w_errors = 0
                self.latency.reset()
                if w:
                    w.reset()
                self._classes[:] = 0
        return snap


class StatsRegistry:
    def __init__(self, max_features: int = 256, clock=time.time):
        self.max_features = max_features
        self._clock = clock
        self._stats: dict[tuple[str, str], ModelStats] = {}
        self._lock = threading.Lock()

    def get(self, model: str, version: str, input_names=None, class_names=None) -> ModelStats:
        """The stats of one model version; the names are taken when it is created."""
        key = (model, version)
        s = self._stats.get(key)
        if s is None:
            with self._lock:
                s = self._stats.get(key)
                if s is None:
                    s = self._stats[key] = ModelStats(model, version, self.max_features, self._clock,
                                                      input_names, class_names)
        return s

    def all(self) -> list[ModelStats]:
        return list(self._stats.values())

    def snapshot_all(self, reset_window: bool = False) -> dict:
        return {f"{s.model}@{s.version}": s.snapshot(reset_window) for s in self.all()}


class StatsPublisher:
    """Publishes every model's window snapshot to `{topic_prefix}/{model}` every interval_s."""

    def __init__(self, registry: StatsRegistry, publish: Callable[[str, bytes], object], *,
                 topic_prefix: str = "ember/stats", interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        if interval_s <= 0:
            raise StatsError("interval_s must be > 0")
        self.registry, self.publish = registry, publish
        self.topic_prefix, self.interval_s = topic_prefix.rstrip("/"), interval_s
        self._clock = clock
        self._next = clock() + interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        self.failures = 0
        self.last_error: str | None = None

    def tick(self) -> int:
        now = self._clock()
        if now < self._next:
            return 0
        self._next = now + self.interval_s
        return self.publish_now()

    def publish_now(self) -> int:
        n = 0
        for s in self.registry.all():
            snap = s.snapshot(reset_window=True)
            try:
                self.publish(f"{self.topic_prefix}/{s.model}", json.dumps(snap).encode())
                n += 1
            except Exception as e:      # e.g. OutboxFullError: count it, keep going
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"
        self.published += n
        return n

    def start(self) -> "StatsPublisher":
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ember-stats", daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(min(1.0, self.interval_s)):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
