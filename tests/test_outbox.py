"""Durable outbox: persistence, bounds and overflow policies, expiry, locking, backoff, dedupe."""
import sqlite3

import pytest

from runtime.core.outbox import Backoff, Deduper, Outbox, OutboxError, OutboxFullError
from runtime.errors import EmberError


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def test_put_peek_ack_and_ids(tmp_path):
    with Outbox(str(tmp_path / "o.db")) as box:
        ids = [box.put("up/a", f"m{i}") for i in range(5)]
        assert len(set(ids)) == 5
        assert all(i.startswith(box.instance + "-") for i in ids)
        assert box.depth() == 5
        msgs = box.peek(limit=3)
        assert [m.payload for m in msgs] == [b"m0", b"m1", b"m2"]
        assert [m.msg_id for m in msgs] == ids[:3]
        assert [m.payload for m in box.peek(after_seq=msgs[-1].seq)] == [b"m3", b"m4"]
        assert box.ack([m.seq for m in msgs]) == 3
        assert box.ack([msgs[0].seq]) == 0          # already gone: ignored
        assert box.depth() == 2
        assert box.pending_bytes() == 2 * (2 + len("up/a"))
        s = box.stats()
        assert (s["put"], s["sent"], s["depth"]) == (5, 3, 2)


def test_survives_reopen_and_ids_never_reused(tmp_path):
    path = str(tmp_path / "o.db")
    box = Outbox(path)
    first = box.put_many([("t/1", b"a"), ("t/2", b"b", 0)])
    box.ack([box.peek()[0].seq, box.peek()[1].seq])
    last = box.put("t/3", b"c")
    box.close()
    box = Outbox(path)
    try:
        assert box.depth() == 1
        m = box.peek()[0]
        assert (m.topic, m.payload, m.msg_id) == ("t/3", b"c", last)
        new = box.put("t/4", b"d")
        assert new not in first + [last]
        assert box.instance == last.split("-")[0]
        assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        box.close()


def test_reject_new_by_count(tmp_path):
    with Outbox(str(tmp_path / "o.db"), max_messages=3, overflow="reject-new") as box:
        for i in range(3):
            box.put("t", str(i))
        with pytest.raises(OutboxFullError, match="reject-new"):
            box.put("t", "3")
        assert [m.payload for m in box.peek()] == [b"0", b"1", b"2"]
        assert box.stats()["rejected"] == 1
        box.ack([box.peek()[0].seq])
        box.put("t", "4")
        assert [m.payload for m in box.peek()] == [b"1", b"2", b"4"]


def test_drop_oldest_by_count_and_bytes(tmp_path):
    with Outbox(str(tmp_path / "o.db"), max_messages=4, max_bytes=1000,
                overflow="drop-oldest") as box:
        for i in range(6):
            box.put("t", str(i))
        assert [m.payload for m in box.peek()] == [b"2", b"3", b"4", b"5"]
        assert box.stats()["dropped"] == 2
        # A 500-byte message needs room: bytes bound drops more old messages.
        box.put("t", b"x" * 500)
        box.put("t", b"y" * 495)
        assert box.pending_bytes() <= 1000
        assert [m.payload[:1] for m in box.peek()] == [b"5", b"x", b"y"]
        assert box.stats()["dropped"] == 5


def test_reject_new_by_bytes_and_oversize(tmp_path):
    with Outbox(str(tmp_path / "o.db"), max_bytes=100, overflow="reject-new") as box:
        box.put("t", b"a" * 90)
        with pytest.raises(OutboxFullError):
            box.put("t", b"b" * 20)
        with pytest.raises(OutboxFullError, match="exceeds"):
            box.put("t", b"c" * 200)
        assert box.depth() == 1
    with Outbox(str(tmp_path / "p.db"), max_bytes=100, overflow="drop-oldest") as box:
        box.put("t", b"a" * 90)
        with pytest.raises(OutboxFullError, match="exceeds"):
            box.put("t", b"c" * 200)     # never fits: rejected even with drop-oldest
        assert box.depth() == 1


def test_batch_is_all_or_nothing(tmp_path):
    with Outbox(str(tmp_path / "o.db"), max_messages=3) as box:
        box.put("t", "0")
        with pytest.raises(OutboxFullError):
            box.put_many([("t", "1"), ("t", "2"), ("t", "3")])
        assert box.depth() == 1
        with pytest.raises(OutboxError, match="topic"):
            box.put_many([("t", "1"), ("bad/#", "2")])
        assert box.depth() == 1


def test_expiry_by_age(tmp_path):
    clock = FakeClock()
    with Outbox(str(tmp_path / "o.db"), max_age_s=60, clock=clock) as box:
        box.put("t", "old")
        clock.t += 30
        box.put("t", "young")
        assert box.oldest_age_s() == 30
        clock.t += 31
        assert box.expire() == 1
        assert [m.payload for m in box.peek()] == [b"young"]
        clock.t += 100
        box.put("t", "new")          # put expires too
        assert [m.payload for m in box.peek()] == [b"new"]
        assert box.stats()["expired"] == 2


def test_bad_configuration_and_input(tmp_path):
    p = str(tmp_path / "o.db")
    with pytest.raises(OutboxError, match="overflow policy"):
        Outbox(p, overflow="drop-newest")
    with pytest.raises(OutboxError, match="synchronous"):
        Outbox(p, synchronous="OFF")
    with pytest.raises(OutboxError):
        Outbox(p, max_messages=0)
    with Outbox(p) as box:
        with pytest.raises(OutboxError, match="payload"):
            box.put("t", 12345)
        with pytest.raises(OutboxError, match="topic"):
            box.put("a/+/b", b"x")
        with pytest.raises(OutboxError, match="qos"):
            box.put("t", b"x", qos=3)
        assert box.depth() == 0
    assert issubclass(OutboxError, EmberError)


def test_corrupt_database_is_a_clear_error(tmp_path):
    p = tmp_path / "o.db"
    p.write_bytes(b"this is not a sqlite database at all" * 100)
    with pytest.raises(OutboxError, match="cannot open"):
        Outbox(str(p))
    p.unlink()
    Outbox(str(p)).close()               # the failed open released its lock


def test_one_owner_at_a_time(tmp_path):
    p = str(tmp_path / "o.db")
    box = Outbox(p)
    with pytest.raises(OutboxError, match="in use"):
        Outbox(p)
    box.close()
    Outbox(p).close()
    with pytest.raises(OutboxError, match="closed"):
        box.put("t", "x")


def test_integrity_after_many_writes(tmp_path):
    p = str(tmp_path / "o.db")
    with Outbox(p, synchronous="NORMAL") as box:
        box.put_many([("t", b"%d" % i) for i in range(1000)])
        box.ack(m.seq for m in box.peek(limit=500))
        assert box.depth() == 500
    db = sqlite3.connect(p)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_backoff_grows_caps_and_resets():
    b = Backoff(initial_s=0.5, max_s=60, factor=2, jitter=0)
    delays = [b.next_delay() for _ in range(10)]
    assert delays == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    b.reset()
    assert b.next_delay() == 0.5
    j = Backoff(initial_s=1, max_s=10, jitter=0.1)
    assert 0.9 <= j.next_delay() <= 1.1
    assert 1.8 <= j.next_delay() <= 2.2
    with pytest.raises(OutboxError):
        Backoff(initial_s=0)


def test_deduper():
    d = Deduper(capacity=3)
    assert d.accept("a") and d.accept("b")
    assert not d.accept("a")
    assert d.accept("c") and d.accept("d")      # evicts b (a was refreshed)
    assert not d.accept("a")
    assert d.accept("b")                          # forgotten beyond capacity
    assert d.accept(None) and d.accept(None)      # no id: cannot dedupe
    assert d.duplicates == 2


def test_payload_id_prefix_roundtrip(tmp_path):
    from runtime.core.outbox import split_payload, wrap_payload
    assert split_payload(wrap_payload("abc-1", b"\x00body\n")) == ("abc-1", b"\x00body\n")
    assert split_payload(b'{"plain": 1}') == (None, b'{"plain": 1}')
    assert split_payload(b"ember-msg-id:no-newline") == (None, b"ember-msg-id:no-newline")
    with pytest.raises(OutboxError, match="protocol"):
        from runtime.core.outbox import UplinkSender
        with Outbox(str(tmp_path / "o.db")) as box:
            UplinkSender(box, "127.0.0.1", 1, protocol=3)


def test_persistent_deduper_survives_restart(tmp_path):
    p = str(tmp_path / "seen.db")
    d = Deduper(capacity=2000, path=p)
    assert d.accept("a") and not d.accept("a")
    assert not d.seen("b")
    assert d.mark("b") and d.seen("b")
    d.close()
    d = Deduper(capacity=2000, path=p)
    assert not d.accept("a") and not d.accept("b") and d.accept("c")
    for i in range(5000):                 # bounded: old ids are forgotten beyond capacity
        d.accept(f"x{i}")
    n = d._db.execute("SELECT count(*) FROM seen").fetchone()[0]
    assert 2000 <= n <= 2000 + 1024
    assert not d.accept("x4999") and d.accept("a")
    d.close()
    (tmp_path / "bad.db").write_bytes(b"not sqlite" * 200)
    with pytest.raises(OutboxError, match="dedupe database"):
        Deduper(path=str(tmp_path / "bad.db"))
