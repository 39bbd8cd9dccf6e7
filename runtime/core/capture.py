"""Data capture: sampled model inputs/outputs appended as JSONL, rotated by size, capped on
disk, and shipped through the durable outbox.

Interface:

    cap = Capture(directory, outbox=box, topic="ember/capture/core-1", sample_rate=0.01,
                  max_file_bytes=256 << 10, max_total_bytes=64 << 20, seed=None)
    cap.offer(model, version, node, inputs, outputs, t=None) -> bool   # sampled? then recorded
    cap.offer_many(model, version, nodes, inputs, outputs) -> int     # offer() for each row, one lock
    cap.record(model, version, node, inputs, outputs, t=None)          # always recorded
    cap.rotate()          # close the current segment and ship it (also done by size)
    cap.ship_pending()    # retry shipping closed segments (e.g. after OutboxFullError)
    cap.stats()           # offered, sampled, records, segments, shipped, dropped_segments, bytes_on_disk
    cap.close()           # rotate + ship what is there

Files in `directory`:
    current.jsonl                 the segment being appended (one JSON object per line:
                                  {"t", "model", "version", "node", "input", "output"}; the core
                                  records the reading's values in feature units as "input" and
                                  the dequantized model outputs as "output")
    segment-<time>-<n>.jsonl      closed segments waiting to be shipped

A closed segment is put into the outbox as ONE message (topic `topic`, payload the JSONL
bytes, so max_file_bytes must fit the outbox's max_bytes) and deleted once `put` returned,
i.e. once the outbox holds it durably. Its `ember-msg-id` is stable_msg_id("<topic>:<segment
file name>", bytes), so a segment shipped again after a crash between the put and the deletion
dedupes with the first copy. If the outbox refuses (full), the segment stays on disk
and is retried by ship_pending()/the next rotation. Without an outbox, segments just stay on
disk. The total size of current + closed segments is capped by max_total_bytes: the oldest
closed segments are deleted first (counted `dropped_segments`). Records are appended with a
flush but no fsync: capture is best effort, a crash may lose the last lines, never the file.
A current.jsonl left by a previous run is rotated on start.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Callable

import numpy as np

from runtime.errors import EmberError

CURRENT = "current.jsonl"


class CaptureError(EmberError):
    """Capture is misconfigured or a record cannot be encoded."""


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


class Capture:
    def __init__(self, directory: str, *, outbox=None, topic: str = "ember/capture",
                 sample_rate: float = 0.01, max_file_bytes: int = 256 << 10,
                 max_total_bytes: int = 64 << 20, seed: int | None = None,
                 clock: Callable[[], float] = time.time):
        if not 0.0 <= sample_rate <= 1.0:
            raise CaptureError(f"sample_rate must be in [0, 1], got {sample_rate}")
        if max_file_bytes < 1 or max_total_bytes < max_file_bytes:
            raise CaptureError("need 1 <= max_file_bytes <= max_total_bytes")
        if outbox is not None and max_file_bytes + len(topic) > outbox.max_bytes:
            raise CaptureError(f"max_file_bytes {max_file_bytes} does not fit the outbox bound {outbox.max_bytes}")
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.outbox, self.topic = outbox, topic
        self.sample_rate = sample_rate
        self.max_file_bytes, self.max_total_bytes = max_file_bytes, max_total_bytes
        self._rng = random.Random(seed)
        self._clock = clock
        self._lock = threading.Lock()
        self._n = 0
        self.counters = {"offered": 0, "sampled": 0, "records": 0, "segments": 0, "shipped": 0,
                         "ship_failures": 0, "dropped_segments": 0, "dropped_bytes": 0}
        self._path = os.path.join(self.dir, CURRENT)
        self._file = None
        self._size = 0
        with self._lock:
            if os.path.exists(self._path) and os.path.getsize(self._path) > 0:
                self._rotate_locked()
            self._open_locked()
            self._ship_locked()
            self._enforce_cap_locked()

    # -- recording ---------------------------------------------------------------------------
    def offer(self, model: str, version: str, node: str, inputs, outputs, t: float | None = None) -> bool:
        """Record with probability sample_rate; returns whether it was recorded."""
        with self._lock:
            self.counters["offered"] += 1
            if self.sample_rate <= 0 or self._rng.random() >= self.sample_rate:
                return False
            self.counters["sampled"] += 1
        self.record(model, version, node, inputs, outputs, t)
        return True

    def offer_many(self, model: str, version: str, nodes: list, inputs, outputs) -> int:
        """offer() for row i of inputs/outputs from nodes[i] (the same sampling, one lock per
        batch); returns how many were recorded."""
        n = len(nodes)
        with self._lock:
            self.counters["offered"] += n
            if self.sample_rate <= 0 or n == 0:
                return 0
            rnd, rate = self._rng.random, self.sample_rate
            picked = [i for i in range(n) if rnd() < rate]
            self.counters["sampled"] += len(picked)
        for i in picked:
            self.record(model, version, nodes[i], inputs[i], outputs[i])
        return len(picked)

    def record(self, model: str, version: str, node: str, inputs, outputs, t: float | None = None) -> None:
        rec = {"t": self._clock() if t is None else t, "model": model, "version": version,
               "node": node, "input": _jsonable(inputs), "output": _jsonable(outputs)}
        try:
            line = (json.dumps(rec, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        except (TypeError, ValueError) as e:
            raise CaptureError(f"capture record is not JSON-encodable: {e}") from None
        if len(line) > self.max_file_bytes:
            raise CaptureError(f"capture record of {len(line)} bytes exceeds max_file_bytes {self.max_file_bytes}")
        with self._lock:
            if self._size + len(line) > self.max_file_bytes:
                self._rotate_locked()
                self._open_locked()
                self._ship_locked()
            self._file.write(line)
            self._file.flush()
            self._size += len(line)
            self.counters["records"] += 1
            self._enforce_cap_locked()

    # -- segments ----------------------------------------------------------------------------
    def _open_locked(self):
        self._file = open(self._path, "ab")
        self._size = self._file.tell()

    def _rotate_locked(self) -> str | None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not os.path.exists(self._path) or os.path.getsize(self._path) == 0:
            return None
        self._n += 1
        name = os.path.join(self.dir, f"segment-{int(self._clock() * 1000):015d}-{self._n:06d}.jsonl")
        while os.path.exists(name):
            self._n += 1
            name = os.path.join(self.dir, f"segment-{int(self._clock() * 1000):015d}-{self._n:06d}.jsonl")
        os.replace(self._path, name)
        self.counters["segments"] += 1
        return name

    def segments(self) -> list[str]:
        """Closed segments on disk, oldest first."""
        return sorted(os.path.join(self.dir, n) for n in os.listdir(self.dir)
                      if n.startswith("segment-") and n.endswith(".jsonl"))

    def _ship_locked(self) -> int:
        if self.outbox is None:
            return 0
        from .outbox import OutboxError, stable_msg_id
        shipped = 0
        for seg in self.segments():
            with open(seg, "rb") as f:
                data = f.read()
            try:
                # the same id if a crash before the unlink below ships this segment again
                self.outbox.put(self.topic, data, qos=1,
                                msg_id=stable_msg_id(f"{self.topic}:{os.path.basename(seg)}", data))
            except OutboxError:
                self.counters["ship_failures"] += 1
                break                 # keep it and the newer ones on disk, in order
            os.unlink(seg)
            shipped += 1
        self.counters["shipped"] += shipped
        return shipped

    def _enforce_cap_locked(self) -> None:
        segs = self.segments()
        sizes = {s: os.path.getsize(s) for s in segs}
        total = self._size + sum(sizes.values())
        for s in segs:
            if total <= self.max_total_bytes:
                break
            os.unlink(s)
            total -= sizes[s]
            self.counters["dropped_segments"] += 1
            self.counters["dropped_bytes"] += sizes[s]

    def rotate(self) -> None:
        with self._lock:
            self._rotate_locked()
            self._open_locked()
            self._ship_locked()

    def ship_pending(self) -> int:
        with self._lock:
            return self._ship_locked()

    def bytes_on_disk(self) -> int:
        return self._size + sum(os.path.getsize(s) for s in self.segments())

    def stats(self) -> dict:
        with self._lock:
            return dict(self.counters, bytes_on_disk=self.bytes_on_disk(),
                        pending_segments=len(self.segments()), sample_rate=self.sample_rate)

    def close(self) -> None:
        with self._lock:
            if self._file is None:
                return
            self._rotate_locked()
            self._ship_locked()
