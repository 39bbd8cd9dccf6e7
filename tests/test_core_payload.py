"""Node payload decoding: JSON and the batched binary form (runtime/core/payload.py)."""

import numpy as np
import pytest

from runtime.core.payload import BadInput, decode, encode_binary, encode_json


def test_json_reading():
    r = decode(encode_json(7, 1234, ch={"vib": [1.0, 2.0]}, f={"rms": 0.5}))
    assert (r.seq, r.t, r.ch, r.f) == (7, 1234, {"vib": [1.0, 2.0]}, {"rms": 0.5})


def test_binary_round_trip_float_and_int8():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = decode(encode_binary([5, 6, 7], [10, 20, 30], x))
    assert b.seqs == [5, 6, 7] and b.ts == [10, 20, 30] and b.count == 3
    assert np.array_equal(b.values, x) and not b.quantized
    q = np.array([[-128, 127], [0, 1]], np.int8)
    b = decode(encode_binary([1, 2], [0, 0], q))
    assert b.quantized and np.array_equal(b.values, q)


@pytest.mark.parametrize("payload, kind", [
    (b"", "bad_payload"),
    (b"{not json", "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (b"[1, 2]", "bad_payload"),
    (b'{"seq": "x", "f": {"a": 1}}', "bad_payload"),
    (b'{"seq": 1, "f": [1]}', "bad_payload"),
    (b'{"seq": 1}', "bad_payload"),
    (b"\xe1\x01", "bad_payload"),
    (b"\xe1\x07\x01\x00\x01\x00", "bad_payload"),
    (b"\xe1\x01\x00\x00\x04\x00", "bad_payload"),                        # zero records
    (encode_binary([1], [1], np.zeros((1, 4), np.float32))[:-1], "wrong_size"),
])
def test_bad_payloads_have_a_kind_and_reason(payload, kind):
    with pytest.raises(BadInput) as e:
        decode(payload)
    assert e.value.kind == kind and str(e.value)


@pytest.mark.parametrize("dtype", [np.int8, np.float32])
def test_binary_one_record_decodes_like_a_block(dtype):
    x = (np.arange(5) - 2).astype(dtype).reshape(1, 5)
    b = decode(encode_binary([2**32 - 1], [7], x))
    assert b.seqs == [2**32 - 1] and b.ts == [7] and b.count == 1
    assert b.values.shape == (1, 5) and b.values.dtype == dtype and np.array_equal(b.values, x)
    assert b.quantized == (dtype == np.int8)
    with pytest.raises(BadInput) as e:
        decode(encode_binary([1], [1], x) + b"\x00")
    assert e.value.kind == "wrong_size"
