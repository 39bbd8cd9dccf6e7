"""runtime.core._mqtt_fast: the Cython bulk MQTT frame parser and builders of the lean ingest path.

Frames are built independently of the module under test (the embedded broker's encoder and
hand-written bytes), then parsed whole, byte by byte and at random split points.
"""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from runtime.core._mqtt_fast import FrameError, FrameParser, publish_frame, pubacks
from runtime.core.broker import _packet, _str, _varint
from runtime.errors import EmberError


def publish(topic: str, payload: bytes, qos: int = 1, pid: int = 1, props: bytes | None = None) -> bytes:
    body = _str(topic.encode()) + (struct.pack("!H", pid) if qos else b"")
    if props is not None:
        body += _varint(len(props)) + props
    return _packet(3, qos << 1, body + payload)


def parse_all(parser: FrameParser, chunks) -> tuple[list, list, list]:
    pubs, acks, others = [], [], []
    for c in chunks:
        a, b, o = parser.parse(c)
        pubs += a
        acks += b
        others += o
    return pubs, acks, others


def stream_v4() -> tuple[bytes, list, list, list]:
    frames = [
        _packet(2, 0, b"\x01\x00"),                                      # CONNACK, session present
        _packet(9, 0, b"\x00\x01\x01"),                                  # SUBACK granted QoS 1
        publish("ember/nodes/n1/data", b'{"seq":1}', 1, 10),
        publish("ember/nodes/n2/data", b"", 0),                           # empty payload, QoS 0
        _packet(4, 0, b"\x00\x05"),                                      # PUBACK of our publish 5
        publish("ember/nodes/n3/data", bytes(range(256)) * 80, 1, 65535),  # 3-byte remaining length
        _packet(13, 0, b""),                                             # PINGRESP
        publish("ember/nodes/\u00e9/data", b"x", 1, 3),                   # UTF-8 topic
    ]
    pubs = [("ember/nodes/n1/data", b'{"seq":1}', 10, 1), ("ember/nodes/n2/data", b"", 0, 0),
            ("ember/nodes/n3/data", bytes(range(256)) * 80, 65535, 1), ("ember/nodes/\u00e9/data", b"x", 3, 1)]
    others = [(2, 0, b"\x01\x00"), (9, 0, b"\x00\x01\x01"), (13, 0, b"")]
    return b"".join(frames), pubs, [(5, 0)], others


def test_many_frames_in_one_buffer():
    data, pubs, acks, others = stream_v4()
    p = FrameParser()
    assert p.parse(data) == (pubs, acks, others)
    assert p.pending == 0
    assert p.packets == 8


def test_fragmented_byte_by_byte():
    data, pubs, acks, others = stream_v4()
    p = FrameParser()
    got = parse_all(p, [data[i:i + 1] for i in range(len(data))])
    assert got == (pubs, acks, others)
    assert p.pending == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 21000), max_size=12))
def test_random_split_points(cuts):
    data, pubs, acks, others = stream_v4()
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    assert parse_all(FrameParser(), chunks) == (pubs, acks, others)


def test_partial_frame_is_kept_until_complete():
    big = publish("t", b"z" * 5000, 1, 2)
    p = FrameParser()
    assert p.parse(big[:1]) == ([], [], [])          # not even the remaining length
    assert p.parse(big[1:3]) == ([], [], [])
    assert p.parse(big[3:100]) == ([], [], [])
    assert p.pending == 100
    assert p.parse(big[100:] + big[:10]) == ([("t", b"z" * 5000, 2, 1)], [], [])
    assert p.pending == 10
    p.reset()
    assert p.pending == 0
    assert p.parse(big) == ([("t", b"z" * 5000, 2, 1)], [], [])


def test_bytearray_and_memoryview_input():
    data, pubs, acks, others = stream_v4()
    assert FrameParser().parse(bytearray(data)) == (pubs, acks, others)
    assert FrameParser().parse(memoryview(data)) == (pubs, acks, others)


def test_mqtt5_publish_properties_are_skipped():
    props = b"\x01\x01" + b"\x26" + _str(b"k") + _str(b"v")        # payload format + user property
    data = (publish("a/b", b"p1", 1, 7, props) + publish("a/c", b"p2", 0, 0, b"")
            + _packet(4, 0, b"\x00\x09\x10") + _packet(4, 0, b"\x00\x0a\x00\x00")
            + _packet(14, 0, b"\x8e"))                              # DISCONNECT (session taken over)
    p = FrameParser(protocol=5)
    pubs, acks, others = parse_all(p, [data[i:i + 3] for i in range(0, len(data), 3)])
    assert pubs == [("a/b", b"p1", 7, 1), ("a/c", b"p2", 0, 0)]
    assert acks == [(9, 0x10), (10, 0)]
    assert others == [(14, 0, b"\x8e")]


def test_mqtt5_properties_past_the_end():
    bad = _packet(3, 2, _str(b"t") + b"\x00\x01" + b"\x05\x01")    # says 5 property bytes, has 1
    with pytest.raises(FrameError, match="properties"):
        FrameParser(protocol=5).parse(bad)


def test_remaining_length_longer_than_4_bytes():
    with pytest.raises(FrameError, match="longer than 4 bytes"):
        FrameParser(max_packet=1 << 28).parse(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(FrameError, match="longer than 4 bytes"):         # also when only the prefix arrived
        FrameParser(max_packet=1 << 28).parse(b"\x30\xff\xff\xff\xff")


def test_oversized_packet_rejected_from_its_header():
    p = FrameParser(max_packet=1000)
    with pytest.raises(FrameError, match="exceeds the 1000-byte limit"):
        p.parse(b"\x30\xe8\x07")                  # remaining length 1000: 1003 bytes with the header
    assert FrameParser(max_packet=1003).parse(publish("t", b"x" * 995, 0))[0][0][1] == b"x" * 995


@pytest.mark.parametrize("ptype", [0, 1, 8, 10, 12, 14, 15])
def test_packet_types_a_broker_never_sends_v4(ptype):
    with pytest.raises(FrameError, match=f"unexpected packet type {ptype}"):
        FrameParser().parse(bytes([ptype << 4, 0]))


@pytest.mark.parametrize("ptype", [0, 1, 8, 10, 12])
def test_packet_types_a_broker_never_sends_v5(ptype):
    with pytest.raises(FrameError, match=f"unexpected packet type {ptype}"):
        FrameParser(protocol=5).parse(bytes([ptype << 4, 0]))


def test_error_is_an_ember_error_with_position():
    data = publish("t", b"ok", 1, 1) + b"\x10\x00"
    with pytest.raises(EmberError, match="at byte 9"):
        FrameParser().parse(data)


@pytest.mark.parametrize("frame, match", [
    (b"\x36\x05\x00\x01t\x00\x01", "QoS 3"),
    (b"\x32\x03\x00\x09t", "shorter than its topic and packet id"),
    (b"\x30\x03\x00\x09t", "shorter than its topic"),
    (b"\x30\x01\x00", "shorter than its topic length"),
    (b"\x32\x05\x00\x01t\x00\x00", "packet id 0"),
    (b"\x32\x05\x00\x01\xff\x00\x01", "not valid UTF-8"),
    (b"\x40\x01\x00", "PUBACK shorter"),
    (b"\x21\x02\x00\x00", "reserved flags"),
])
def test_malformed_frames(frame, match):
    with pytest.raises(FrameError, match=match):
        FrameParser().parse(frame)


def test_bad_arguments():
    with pytest.raises(ValueError, match="protocol"):
        FrameParser(protocol=3)
    with pytest.raises(ValueError, match="max_packet"):
        FrameParser(max_packet=1)


def test_pubacks_one_buffer():
    assert pubacks([1, 2, 0x1234, 65535]) == b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x12\x34\x40\x02\xff\xff"
    assert pubacks([]) == b""
    for bad in (0, 65536, -1):
        with pytest.raises(ValueError, match="packet id"):
            pubacks([bad])


@pytest.mark.parametrize("size", [0, 1, 100, 200, 20000, 3_000_000])
@pytest.mark.parametrize("qos", [0, 1])
def test_publish_frame_matches_reference_and_round_trips(size, qos):
    payload = bytes(i % 251 for i in range(size))
    pid = 4242 if qos else 0
    frame = publish_frame("ember/results/m/n\u00e9", payload, qos, pid)
    assert frame == publish("ember/results/m/n\u00e9", payload, qos, pid)
    assert FrameParser(max_packet=1 << 23).parse(frame)[0] == [("ember/results/m/n\u00e9", payload, pid, qos)]
    v5 = publish_frame("a", payload, qos, pid, protocol=5)
    assert v5 == publish("a", payload, qos, pid, props=b"")
    assert FrameParser(5, 1 << 23).parse(v5)[0] == [("a", payload, pid, qos)]


def test_publish_frame_dup_flag_and_errors():
    assert publish_frame("t", b"", 1, 1, dup=True)[0] == 0x3A
    assert publish_frame("t", b"", 0, 0, dup=True)[0] == 0x30    # DUP is never set on QoS 0
    with pytest.raises(ValueError, match="packet id"):
        publish_frame("t", b"", 1, 0)
    with pytest.raises(ValueError, match="qos"):
        publish_frame("t", b"", 2, 1)
