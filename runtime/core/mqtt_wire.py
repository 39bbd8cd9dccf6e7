"""MQTT wire encoding shared by the embedded broker (broker.py), the lean ingest connections
(ingest.py) and the load generator (tools/mqtt_load.py). Pure Python, no imports beyond struct,
so the lean ingest path stays light."""

from __future__ import annotations

import struct

MAX_REMAINING_LENGTH = 268_435_455     # the largest 4-byte variable byte integer


def varint(n: int) -> bytes:
    """MQTT variable byte integer (remaining length, property lengths): 1-4 bytes."""
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise ValueError(f"remaining length {n} out of range")
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def utf8_field(s: str | bytes) -> bytes:
    """A length-prefixed MQTT string / binary field (str is encoded as UTF-8)."""
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


__all__ = ["MAX_REMAINING_LENGTH", "utf8_field", "varint"]
