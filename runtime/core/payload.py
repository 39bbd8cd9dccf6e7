"""Node data payloads: the JSON form of DESIGN.md and a compact batched binary form.

JSON (one reading per message):
    {"seq": 17, "t": 123456, "ch": {"accel": [..window..], "temp": 21.5}, "f": {"rms": 0.12}}

Binary, version 1 (many readings per message; the first byte is never `{`):
    offset 0  u8   version = 0xE1
    offset 1  u8   dtype: 0 = int8 (already the model's quantized input), 1 = float32
    offset 2  u16  count of records (little endian)
    offset 4  u16  n values per record
    then count records of:  u32 seq, u32 t (ms since boot), n values of dtype
Binary values are the model input vector itself, in the order the route's
features/channels name them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import EmberError

BINARY_V1 = 0xE1
DTYPE_INT8, DTYPE_FLOAT32 = 0, 1
_HEADER = struct.Struct("<BBHH")
_NP_DTYPES = {DTYPE_INT8: np.dtype("i1"), DTYPE_FLOAT32: np.dtype("<f4")}


class BadInput(EmberError, ValueError):
    """A node message that cannot be used; `kind` is the counter it increments."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Reading:
    """One reading of one node with named values (JSON form)."""
    seq: int
    t: int
    f: dict | None = None
    ch: dict | None = None

    @property
    def count(self) -> int:
        return 1


@dataclass
class Block:
    """Readings of one binary message: seqs[i], ts[i] and row i of `values` (float32 or int8)."""
    seqs: list
    ts: list
    values: np.ndarray
    quantized: bool = False

    @property
    def count(self) -> int:
        return len(self.seqs)


def decode(payload: bytes):
    """Parse one MQTT payload into a Reading (JSON) or a Block (binary); raises BadInput."""
    if not payload:
        raise BadInput("bad_payload", "empty payload")
    if payload[0] == BINARY_V1:
        return _decode_binary(payload)
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInput("bad_json", f"malformed JSON: {e}") from None
    if not isinstance(msg, dict):
        raise BadInput("bad_payload", "JSON payload must be an object")
    seq, t = msg.get("seq", -1), msg.get("t", 0)
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(t, (int, float)) or isinstance(t, bool):
        raise BadInput("bad_payload", "'seq' must be an integer and 't' a number")
    f, ch = msg.get("f", {}), msg.get("ch", {})
    if not isinstance(f, dict) or not isinstance(ch, dict):
        raise BadInput("bad_payload", "'f' and 'ch' must be objects")
    if not f and not ch:
        raise BadInput("bad_payload", "payload has neither 'f' nor 'ch' values")
    return Reading(seq, int(t), f=f, ch=ch)


_SEQ_T = struct.Struct("<II")
_RECORDS: dict = {}          # (dtype code, n) -> record dtype (building one costs more than a decode)


def _record(dt: int, n: int) -> np.dtype:
    rec = _RECORDS.get((dt, n))
    if rec is None:
        rec = np.dtype([("seq", "<u4"), ("t", "<u4"), ("x", _NP_DTYPES[dt], (n,))])
        if len(_RECORDS) < 256:            # bounded: n comes from the network
            _RECORDS[(dt, n)] = rec
    return rec


def _decode_binary(payload: bytes) -> Block:
    if len(payload) < _HEADER.size:
        raise BadInput("bad_payload", "binary payload shorter than its header")
    _, dt, count, n = _HEADER.unpack_from(payload)
    if dt not in _NP_DTYPES:
        raise BadInput("bad_payload", f"binary payload has unknown dtype code {dt}")
    itemsize = 8 + n * _NP_DTYPES[dt].itemsize
    want = _HEADER.size + count * itemsize
    if len(payload) != want:
        raise BadInput("wrong_size", f"binary payload is {len(payload)} bytes, header says {want}")
    if count == 0:
        raise BadInput("bad_payload", "binary payload holds no records")
    if count == 1:                         # one reading per message: no record array needed
        seq, t = _SEQ_T.unpack_from(payload, _HEADER.size)
        x = np.frombuffer(payload, _NP_DTYPES[dt], n, _HEADER.size + 8).reshape(1, n)
        return Block([seq], [t], x, dt == DTYPE_INT8)
    arr = np.frombuffer(payload, _record(dt, n), count, _HEADER.size)
    return Block(arr["seq"].tolist(), arr["t"].tolist(), arr["x"].reshape(count, n), dt == DTYPE_INT8)


def encode_binary(seqs, ts, values: np.ndarray) -> bytes:
    """Pack readings (values: shape (count, n), float32 or int8) as binary version 1."""
    values = np.ascontiguousarray(values)
    if values.ndim != 2:
        raise ValueError("values must have shape (count, n)")
    dt = DTYPE_INT8 if values.dtype == np.int8 else DTYPE_FLOAT32
    count, n = values.shape
    rec = np.dtype([("seq", "<u4"), ("t", "<u4"), ("x", _NP_DTYPES[dt], (n,))])
    arr = np.empty(count, rec)
    arr["seq"], arr["t"], arr["x"] = seqs, ts, values
    return _HEADER.pack(BINARY_V1, dt, count, n) + arr.tobytes()


def encode_json(seq: int, t: int, ch: dict | None = None, f: dict | None = None) -> bytes:
    msg = {"seq": seq, "t": t}
    if ch:
        msg["ch"] = ch
    if f:
        msg["f"] = f
    return json.dumps(msg, separators=(",", ":")).encode()
