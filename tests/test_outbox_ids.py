"""Outbox message ids a receiver dedupes on: unique by default, caller-chosen and stable for
messages that can be stored again after a crash (results, capture segments), carried the same
way in MQTT 5 (user property) and MQTT 3.1.1 (payload line); outboxes from before the id column
are upgraded in place."""
import shutil
import sqlite3

import numpy as np
import pytest

from runtime.core.capture import Capture
from runtime.core.outbox import (MAX_MSG_ID_CHARS, Outbox, OutboxError, split_payload, stable_msg_id,
                                 wrap_payload)


def test_stable_msg_id_is_deterministic_and_tells_messages_apart():
    a = stable_msg_id("n1:m:1000:0", b'{"seq":0,"t":1000,"f":{"x":1}}')
    assert a == stable_msg_id("n1:m:1000:0", bytearray(b'{"seq":0,"t":1000,"f":{"x":1}}'))
    assert a.startswith("n1:m:1000:0#") and len(a) == len("n1:m:1000:0#") + 16
    assert a != stable_msg_id("n1:m:1000:0", b'{"seq":0,"t":1000,"f":{"x":2}}')   # same rid, other readings
    assert a != stable_msg_id("n2:m:1000:0", b'{"seq":0,"t":1000,"f":{"x":1}}')
    assert stable_msg_id("k", memoryview(b"body")) == stable_msg_id("k", b"body")
    # keys that would not survive the MQTT 3.1.1 id line, or are long, are hashed
    for key in ("ü-node:m:1:2", "node with space:m:1:2", "a\nb:m:1:2", "n" * 101 + ":m:1:2"):
        h = stable_msg_id(key, b"x")
        assert h.startswith("h:") and len(h) == 34 and h.isascii() and h.isprintable()
        assert h == stable_msg_id(key, b"x") and h != stable_msg_id(key, b"y")
    assert stable_msg_id("n" * 100, b"") != stable_msg_id("n" * 101, b"")
    for bad_key in ("", None, 3):
        with pytest.raises(OutboxError, match="key"):
            stable_msg_id(bad_key, b"x")
    with pytest.raises(OutboxError, match="bytes-like"):
        stable_msg_id("k", "text")


def test_put_with_chosen_ids_keeps_them_through_reopen(tmp_path):
    path = str(tmp_path / "o.db")
    box = Outbox(path)
    rid_id = stable_msg_id("n1:m:5:1", b"node message")
    ids = box.put_many([("r/a", b"1", 1, rid_id), ("r/b", b"2"), ("r/c", b"3", 0, None)])
    assert ids[0] == rid_id and ids[1].startswith(box.instance + "-") and ids[2].startswith(box.instance + "-")
    assert box.put("r/a", b"1 again", msg_id=rid_id) == rid_id       # a recomputed copy: same id
    seqs = [m.seq for m in box.peek()]
    assert len(set(seqs)) == 4                                       # rows stay distinct inside
    box.ack(seqs[1:2])
    box.close()
    box = Outbox(path)
    try:
        assert [(m.payload, m.msg_id) for m in box.peek()] == [
            (b"1", rid_id), (b"3", ids[2]), (b"1 again", rid_id)]
    finally:
        box.close()


def test_bad_chosen_ids_are_refused_all_or_nothing(tmp_path):
    with Outbox(str(tmp_path / "o.db")) as box:
        for bad in ("", "has space", "line\nbreak", "ü", "x" * (MAX_MSG_ID_CHARS + 1), 17):
            with pytest.raises(OutboxError, match="message id"):
                box.put_many([("t", b"ok", 1, "fine-1"), ("t", b"bad", 1, bad)])
        assert box.depth() == 0
        with pytest.raises(OutboxError, match="msg_id"):
            box.put_many([("t", b"x", 1, "a", "extra")])
        assert box.put("t", b"x", msg_id="x" * MAX_MSG_ID_CHARS) == "x" * MAX_MSG_ID_CHARS
        m = box.peek()[0]
        assert split_payload(wrap_payload(m.msg_id, m.payload)) == (m.msg_id, b"x")   # MQTT 3.1.1 form


def test_outbox_from_before_chosen_ids_is_upgraded(tmp_path):
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
                               payload BLOB NOT NULL, qos INTEGER NOT NULL, created REAL NOT NULL);
        INSERT INTO meta VALUES ('instance', 'abc123');
        INSERT INTO messages (topic, payload, qos, created) VALUES ('r/old', x'6f6c64', 1, 1e12);
    """)
    db.commit()
    db.close()
    with Outbox(path) as box:
        assert [(m.topic, m.payload, m.msg_id) for m in box.peek()] == [("r/old", b"old", "abc123-1")]
        new = box.put("r/new", b"new", msg_id="n1:m:1:1#00")
        assert [m.msg_id for m in box.peek()] == ["abc123-1", new]
    with Outbox(path) as box:                                        # reopening an upgraded file
        assert box.depth() == 2


def test_capture_segment_shipped_again_keeps_its_id(tmp_path):
    """A crash after the outbox stored a segment but before the segment file was deleted ships
    it again on the next start: the copy carries the first copy's id."""
    cap = Capture(str(tmp_path / "cap"), outbox=None, topic="ember/capture/c1", sample_rate=1.0)
    for i in range(3):
        cap.record("m", "1.0.0", "n1", np.full(4, i, np.int8), [i], t=float(i))
    cap.rotate()
    (seg,) = cap.segments()
    shutil.copy(seg, tmp_path / "kept")
    with Outbox(str(tmp_path / "o.db")) as box:
        cap.outbox = box
        assert cap.ship_pending() == 1
        shutil.copy(tmp_path / "kept", seg)                          # as if the unlink never happened
        assert cap.ship_pending() == 1
        cap.record("m", "1.0.0", "n1", np.full(4, 9, np.int8), [9], t=9.0)
        cap.rotate()                                                 # a new segment: a new id
        first, again, other = box.peek()
        assert first.msg_id == again.msg_id and first.payload == again.payload
        assert first.msg_id.startswith("ember/capture/c1:segment-") and "#" in first.msg_id
        assert other.msg_id != first.msg_id
        cap.close()
