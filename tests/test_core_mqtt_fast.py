"""runtime.core._mqtt_fast: the Cython bulk MQTT frame parser and builders of the lean ingest path.

Frames are built independently of the module under test (the embedded broker's encoder and
hand-written bytes), then parsed whole, byte by byte and at random split points.
"""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st

from runtime.core._mqtt_fast import FrameError, FrameParser, publish_frame, pubacks
from runtime.core.broker import _packet
from runtime.core.mqtt_wire import utf8_field, varint
from runtime.errors import EmberError


def publish(topic: str, payload: bytes, qos: int = 1, pid: int = 1, props: bytes | None = None) -> bytes:
    body = utf8_field(topic.encode()) + (struct.pack("!H", pid) if qos else b"")
    if props is not None:
        body += varint(len(props)) + props
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
    props = b"\x01\x01" + b"\x26" + utf8_field(b"k") + utf8_field(b"v")        # payload format + user property
    data = (publish("a/b", b"p1", 1, 7, props) + publish("a/c", b"p2", 0, 0, b"")
            + _packet(4, 0, b"\x00\x09\x10") + _packet(4, 0, b"\x00\x0a\x00\x00")
            + _packet(14, 0, b"\x8e"))                              # DISCONNECT (session taken over)
    p = FrameParser(protocol=5)
    pubs, acks, others = parse_all(p, [data[i:i + 3] for i in range(0, len(data), 3)])
    assert pubs == [("a/b", b"p1", 7, 1), ("a/c", b"p2", 0, 0)]
    assert acks == [(9, 0x10), (10, 0)]
    assert others == [(14, 0, b"\x8e")]


def test_mqtt5_properties_past_the_end():
    bad = _packet(3, 2, utf8_field(b"t") + b"\x00\x01" + b"\x05\x01")    # says 5 property bytes, has 1
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


# ---------------------------------------------------------------- ReadingDecoder
import json  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402

from runtime.core._mqtt_fast import ReadingDecoder  # noqa: E402
from runtime.core.config import ModelRoute  # noqa: E402
from runtime.core.models import ServedModel  # noqa: E402
from runtime.core.payload import BadInput, decode  # noqa: E402


def served(features, channels, size):
    t = lambda shape: SimpleNamespace(name="t", shape=shape, dtype="int8", scale=0.1, zero_point=0)
    model = SimpleNamespace(inputs=[t((1, size))], outputs=[t((1, 2))], infer=lambda x: x)
    return ServedModel(ModelRoute(name="m", path="m.tflite", features=list(features), channels=list(channels)), model)


def general(sm, payload):
    """The general path: json.loads + ServedModel.floats -> (seq, t, row) or None if rejected."""
    try:
        r = decode(payload)
        return r.seq, r.t, sm.floats(r)
    except BadInput:
        return None


def same(fast, slow):
    return fast[:2] == slow[:2] and fast[2].dtype == np.float32 and fast[2].tobytes() == slow[2].tobytes()


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_reading_decoder_plain_forms():
    dec = ReadingDecoder(["a", "b"], ["w"], 5)
    sm = served(["a", "b"], ["w"], 5)
    cases = [
        b'{"seq": 3, "t": 99, "f": {"a": 1.5, "b": -2}, "ch": {"w": [0.1, 1e-3, 7]}}',
        b'{"ch":{"w":[1,2,3]},"t":1,"f":{"b":0,"zz":5,"a":-0.0}}',             # order, extra feature
        b' {"seq":-7,"f":{"a":1,"b":2,"w":[1,2]},"ch":{"w":[3,4,5]}} \n',         # channel from "ch" first
        b'{"seq":1,"f":{"a":1,"w":[9,9,9]},"ch":{"b":2}}',                        # "f"/"ch" fallbacks
        b'{"seq":1,"f":{"a":1,"a":4,"b":2},"ch":{"w":[3,4,5]}}',                  # duplicate: last wins
        b'{"seq":1,"f":{"a":1e400,"b":2},"ch":{"w":[3,4,5]}}',                    # inf: rejected later
        b'{"seq":1,"f":{"a":123456789012345,"b":3.4028235677973366e38},"ch":{"w":[1,2,3]}}',
    ]
    for p in cases:
        fast, slow = dec.decode(p), general(sm, p)
        assert fast is not None, p
        assert same(fast, slow), (p, fast, slow)


@pytest.mark.parametrize("payload", [
    b'{"seq": 1.0, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}}',        # seq must be an integer
    b'{"seq": true, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}}',
    b'{"seq": 1, "f": {"a": 1}, "ch": {"w": [1,2,3]}}',                  # missing b
    b'{"seq": 1, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2]}}',            # wrong size
    b'{"seq": 1, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}',           # truncated
    b'{"seq": 1, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}} x',        # trailing garbage
    b'{"seq": 1, "f": {"a": NaN, "b": 2}, "ch": {"w": [1,2,3]}}',        # not JSON numbers
    b'{"seq": 1, "f": {"a": 01, "b": 2}, "ch": {"w": [1,2,3]}}',
    b'{"seq": 1, "f": {"a": 1, "b": "2"}, "ch": {"w": [1,2,3]}}',
    b'{"seq": 1, "f": {"a": 1, "b": [[2]]}, "ch": {"w": [1,2,3]}}',
    b'{"seq": 1, "f": {"\\u0061": 1, "b": 2}, "ch": {"w": [1,2,3]}}',    # escaped key
    b'{"seq": 1, "x": 0, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}}',  # other top-level key
    b'{"seq": 1, "f": {"a": 1, "b": 2}, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}}',
    b'{"seq": 12345678901234567, "f": {"a": 1, "b": 2}, "ch": {"w": [1,2,3]}}',
    b'{"seq": 1, "f": {"a": 1234567890123456, "b": 2}, "ch": {"w": [1,2,3]}}',
    b'{}', b'[]', b'', b'{"seq": 1,}',
])
def test_reading_decoder_leaves_everything_else_to_the_general_path(payload):
    assert ReadingDecoder(["a", "b"], ["w"], 5).decode(payload) is None
    assert ReadingDecoder(["a", "b"], ["w"], 5).decode(bytearray(payload)) is None


_names = st.sampled_from(["a", "b", "w", "zz"])
_num = st.one_of(st.integers(-10**17, 10**17), st.floats(allow_nan=False, width=64),
                 st.floats(allow_nan=False, width=32))
_val = st.one_of(_num, st.lists(_num, max_size=4))


_finite = st.one_of(st.integers(-10**15 + 1, 10**15 - 1), st.floats(allow_nan=False, allow_infinity=False),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
_plain = st.fixed_dictionaries({"seq": st.integers(-10**15 + 1, 10**15 - 1), "t": st.integers(0, 2**40),
                                "f": st.fixed_dictionaries({"a": _finite, "b": _finite},
                                                           optional={"zz": st.lists(_finite, max_size=3)}),
                                "ch": st.fixed_dictionaries({"w": st.lists(_finite, min_size=3, max_size=3)})})


@settings(max_examples=300, deadline=None)
@given(st.one_of(_plain, st.fixed_dictionaries({}, optional={"seq": st.one_of(st.integers(-10**18, 10**18), st.booleans(), st.floats()),
                                           "t": st.one_of(st.integers(0, 2**40), st.floats(0, 1e9)),
                                           "f": st.dictionaries(_names, _val, max_size=4),
                                           "ch": st.dictionaries(_names, _val, max_size=4)})),
       st.sampled_from([None, 0, 2]), st.integers(0, 3))
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_reading_decoder_equals_the_general_path(msg, indent, cut):
    text = json.dumps(msg, indent=indent, separators=None if indent is not None else (",", ":")).encode()
    if cut == 3:
        text = text[:-1]                                    # malformed
    for features, channels in ((["a", "b"], ["w"]), (["w"], []), ([], ["a", "zz"])):
        sm = served(features, channels, 5)
        dec = ReadingDecoder(features, channels, 5)
        fast, slow = dec.decode(text), general(sm, text)
        if fast is not None:
            assert slow is not None and same(fast, slow), (text, fast, slow)
        elif features == ["a", "b"] and cut != 3 and _is_plain(msg):
            assert False, f"a plain reading took the general path: {text!r}"   # the fast path is used


def _plain_num(v) -> bool:
    if type(v) is int:
        return abs(v) < 10**15
    return type(v) is float and np.isfinite(v)


def _is_plain(msg) -> bool:
    """The form the C decoder must take (features a, b and channel w of 3 values)."""
    if set(msg) != {"seq", "t", "f", "ch"} or type(msg["seq"]) is not int or type(msg["t"]) is not int:
        return False
    if abs(msg["seq"]) >= 10**15 or abs(msg["t"]) >= 10**15:
        return False
    f, ch = msg["f"], msg["ch"]
    w = ch.get("w", f.get("w"))
    if not ({"a", "b"} <= set(f) and _plain_num(f["a"]) and _plain_num(f["b"]) and isinstance(w, list)
            and len(w) == 3):
        return False
    vals = [v for d in (f, ch) for x in d.values() for v in (x if isinstance(x, list) else [x])]
    return all(_plain_num(v) for v in vals)


# ---------------------------------------------------------------- result_json
from runtime.core._mqtt_fast import result_json  # noqa: E402
from runtime.core.service import _json_head  # noqa: E402

_f64 = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-128, 127), max_size=12), st.lists(_f64, max_size=12), _f64,
       st.one_of(st.none(), st.sampled_from(["normal", "anomaly", "3", ""])),
       st.integers(-2**63, 2**63 - 1), st.integers(-2**63, 2**63 - 1), _f64)
def test_result_json_is_byte_identical_to_json_dumps(q, outputs, score, label, seq, t, lat):
    node, model, version = "pump-2", "vibration", "1.0.0"
    r = {"q": q, "outputs": outputs, "score": score}
    if label is not None:
        r["label"] = label
    r["seq"], r["t"] = seq, t
    rid = f"{node}:{model}:{t}:{seq}"
    msg = {"node": node, "model": model, "version": version, **r, "latency_ms": lat, "rid": rid}
    want = json.dumps(msg, separators=(",", ":")).encode()
    assert result_json(_json_head(node, model, version), q, outputs, score, label, seq, t, lat, rid.encode()) == want


def test_result_json_head_refuses_strings_that_need_escaping():
    assert _json_head("n\u00e9", "m", "1") == b"" and _json_head('n"', "m", "1") == b""
    assert _json_head("n\\", "m", "1") == b"" and _json_head("n\n", "m", "1") == b""
    assert _json_head("n1", "m", "1") == b'{"node":"n1","model":"m","version":"1",'


def test_parse_items_gives_inbox_tuples_and_payload_bytes():
    data, pubs, acks, others = stream_v4()
    p = FrameParser()
    items, nbytes, a, o = p.parse_items(data[:50], 1.5, 7)
    items2, nbytes2, a2, o2 = p.parse_items(data[50:], 2.5, 7)
    got = items + items2
    assert [(t, pl, pid, q) for t, pl, _, pid, q, _ in got] == pubs
    assert all(g == 7 for *_, g in got) and {x[2] for x in got} <= {1.5, 2.5}
    assert nbytes + nbytes2 == sum(len(x[1]) for x in pubs)
    assert a + a2 == acks and o + o2 == others
