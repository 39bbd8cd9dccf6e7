"""Data capture (JSONL, rotation, size cap, shipping through the outbox) and per-model stats
(latency percentiles, Welford mean/std, class histogram, periodic publication)."""
import json
import os

import numpy as np
import pytest

from runtime.core.capture import Capture, CaptureError
from runtime.core.outbox import Outbox
from runtime.core.stats import (LatencyHistogram, ModelStats, StatsError, StatsPublisher,
                                StatsRegistry, Welford)


def _lines(data: bytes):
    return [json.loads(line) for line in data.decode().splitlines()]


def test_capture_rotates_and_ships_through_outbox(tmp_path):
    with Outbox(str(tmp_path / "o.db")) as box:
        cap = Capture(str(tmp_path / "cap"), outbox=box, topic="ember/capture/c1",
                      sample_rate=1.0, max_file_bytes=1000, max_total_bytes=10_000)
        for i in range(40):
            cap.record("kws", "1.0.0", f"n{i % 2}", np.full((1, 4), i, np.int8), [i, -i], t=float(i))
        shipped = box.peek(limit=100)
        assert len(shipped) >= 3 and all(m.topic == "ember/capture/c1" for m in shipped)
        assert all(len(m.payload) <= 1000 for m in shipped)
        cap.close()
        records = [r for m in box.peek(limit=100) for r in _lines(m.payload)]
        assert [r["t"] for r in records] == [float(i) for i in range(40)]   # none lost, in order
        assert records[5] == {"t": 5.0, "model": "kws", "version": "1.0.0", "node": "n1",
                              "input": [[5, 5, 5, 5]], "output": [5, -5]}
        assert cap.segments() == [] and cap.stats()["shipped"] == len(box.peek(limit=100))


def test_capture_sampling_rate(tmp_path):
    cap = Capture(str(tmp_path), sample_rate=0.1, seed=3, max_file_bytes=1 << 20,
                  max_total_bytes=1 << 21)
    taken = sum(cap.offer("m", "1", "n", [1, 2], [3]) for _ in range(2000))
    assert 140 <= taken <= 260
    assert cap.stats()["records"] == taken and cap.stats()["offered"] == 2000
    none = Capture(str(tmp_path / "z"), sample_rate=0.0)
    assert not any(none.offer("m", "1", "n", [1], [1]) for _ in range(100))


def test_capture_size_cap_without_outbox(tmp_path):
    cap = Capture(str(tmp_path), sample_rate=1.0, max_file_bytes=500, max_total_bytes=2000)
    for i in range(200):
        cap.record("m", "1", "n", list(range(10)), [i])
        assert cap.bytes_on_disk() <= 2000
    st = cap.stats()
    assert st["dropped_segments"] > 0 and st["pending_segments"] >= 1
    # The newest records survive; the oldest were dropped.
    last = _lines(open(os.path.join(tmp_path, "current.jsonl"), "rb").read())
    assert last[-1]["output"] == [199]


def test_capture_outbox_full_keeps_segments_then_ships(tmp_path):
    with Outbox(str(tmp_path / "o.db"), max_messages=1, overflow="reject-new") as box:
        cap = Capture(str(tmp_path / "cap"), outbox=box, sample_rate=1.0, max_file_bytes=300,
                      max_total_bytes=100_000)
        for i in range(30):
            cap.record("m", "1", "n", [i] * 5, [i])
        assert box.depth() == 1
        pending = len(cap.segments())
        assert pending >= 1 and cap.stats()["ship_failures"] >= 1
        box.ack([box.peek()[0].seq])
        assert cap.ship_pending() == 1
        assert len(cap.segments()) == pending - 1


def test_capture_leftover_current_file_is_rotated_on_start(tmp_path):
    cap = Capture(str(tmp_path / "cap"), sample_rate=1.0)
    cap.record("m", "1", "n", [1], [1])
    del cap                                   # a crash: current.jsonl left behind
    with Outbox(str(tmp_path / "o.db")) as box:
        Capture(str(tmp_path / "cap"), outbox=box)
        assert box.depth() == 1 and _lines(box.peek()[0].payload)[0]["input"] == [1]


def test_capture_errors(tmp_path):
    with pytest.raises(CaptureError, match="sample_rate"):
        Capture(str(tmp_path), sample_rate=2)
    with Outbox(str(tmp_path / "o.db"), max_bytes=100) as box:
        with pytest.raises(CaptureError, match="does not fit"):
            Capture(str(tmp_path / "c"), outbox=box, max_file_bytes=1000)
    cap = Capture(str(tmp_path / "d"), max_file_bytes=100, max_total_bytes=1000)
    with pytest.raises(CaptureError, match="exceeds"):
        cap.record("m", "1", "n", list(range(100)), [1])
    with pytest.raises(CaptureError, match="JSON"):
        cap.record("m", "1", "n", [float("nan")], [1])
    with pytest.raises(CaptureError, match="JSON"):
        cap.record("m", "1", "n", object(), [1])


def test_latency_histogram_percentiles():
    rng = np.random.default_rng(0)
    v = rng.lognormal(mean=-6, sigma=1.0, size=20_000)
    h = LatencyHistogram()
    for chunk in np.array_split(v, 50):
        h.add(chunk)
    for q in (50, 99):
        true = np.percentile(v, q)
        assert abs(h.percentile(q) - true) / true < 0.03, q
    assert h.count == 20_000 and h.counts.size < 1000      # bounded memory
    with pytest.raises(StatsError):
        h.add([-1.0])
    h.reset()
    assert h.percentile(50) == 0.0


def test_welford_matches_numpy_and_is_stable():
    rng = np.random.default_rng(1)
    x = rng.normal(1e6, 0.5, size=(5000, 3))            # large offset: naive sums lose precision
    w = Welford(3)
    for chunk in np.array_split(x, 37):
        w.add(chunk)
    np.testing.assert_allclose(w.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(w.std(), x.std(axis=0, ddof=1), rtol=1e-6)


def test_model_stats_snapshot_and_window():
    s = ModelStats("kws", "1.0.0", max_features=4)
    rng = np.random.default_rng(2)
    for _ in range(10):
        x = rng.normal(0, 1, size=(8, 2, 4))               # 8 features -> 4 groups of 2
        y = np.eye(3)[rng.integers(0, 3, size=8)]
        s.record(x, y, latency_s=[0.001] * 8)
    s.record_error()
    snap = s.snapshot(reset_window=True)
    assert snap["requests"] == 80 and snap["errors"] == 1
    w = snap["window"]
    assert w["requests"] == 80 and sum(w["classes"].values()) == 80
    assert set(w["classes"]) <= {"0", "1", "2"}
    assert w["input"]["features"] == 8 and len(w["input"]["mean"]) == 4
    assert abs(w["latency_ms"]["p50"] - 1.0) < 0.03
    json.dumps(snap)
    s.record(np.ones((2, 8)), np.array([[0.9], [0.1]]), 0.002)
    w2 = s.snapshot()["window"]
    assert w2["requests"] == 2 and w2["classes"] == {"0": 1, "1": 1}
    assert w2["input"]["mean"] == [1.0] * 4 and w2["input"]["std"] == [0.0] * 4
    assert s.snapshot()["requests"] == 82
    with pytest.raises(StatsError, match="values per sample"):
        s.record(np.ones((1, 5)), np.ones((1, 3)), 0.001)
    with pytest.raises(StatsError, match="batch"):
        s.record(np.ones((2, 8)), np.ones((3, 3)), 0.001)


def test_drift_shows_between_windows():
    s = ModelStats("m", "1")
    s.record(np.random.default_rng(0).normal(0, 1, (500, 2)), np.zeros((500, 2)), 0.001)
    a = s.snapshot(reset_window=True)["window"]["input"]["mean"]
    s.record(np.random.default_rng(1).normal(3, 1, (500, 2)), np.zeros((500, 2)), 0.001)
    b = s.snapshot(reset_window=True)["window"]["input"]["mean"]
    assert all(abs(v) < 0.2 for v in a) and all(abs(v - 3) < 0.2 for v in b)


def test_stats_publisher_periodic(tmp_path):
    class Clock:
        t = 0.0

        def __call__(self):
            return self.t

    clock = Clock()
    reg = StatsRegistry()
    reg.get("kws", "1").record(np.zeros((1, 3)), np.array([[0, 1]]), 0.001)
    reg.get("vww", "2").record(np.zeros((1, 3)), np.array([[1, 0]]), 0.001)
    with Outbox(str(tmp_path / "o.db")) as box:
        pub = StatsPublisher(reg, box.put, topic_prefix="ember/stats/c1", interval_s=60, clock=clock)
        assert pub.tick() == 0
        clock.t = 61
        assert pub.tick() == 2
        assert pub.tick() == 0
        msgs = {m.topic: json.loads(m.payload) for m in box.peek()}
        assert set(msgs) == {"ember/stats/c1/kws", "ember/stats/c1/vww"}
        assert msgs["ember/stats/c1/kws"]["window"]["classes"] == {"1": 1}
        clock.t = 200
        assert pub.tick() == 2
        assert json.loads(box.peek()[-1].payload)["window"]["requests"] == 0   # new window
    failing = StatsPublisher(reg, lambda t, p: 1 / 0, interval_s=1, clock=clock)
    assert failing.publish_now() == 0 and failing.failures == 2
