# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Bulk MQTT 3.1.1 / 5 frame parsing and building for the core's lean ingest connection.

The paho path costs ~0.4 ms of Python per QoS 1 message (select, several small
recv() calls, an MQTTMessage object, a callback, one PUBACK write). Here one
large recv() buffer is cut into all the packets it holds in one C loop:

    p = FrameParser(protocol=4, max_packet=1 << 20)
    publishes, acks, others = p.parse(sock.recv(1 << 18))
        publishes: [(topic str, payload bytes, packet id, qos), ...]   (PUBLISH)
        acks:      [(packet id, reason code), ...]                     (PUBACK; 0 = success)
        others:    [(packet type, flags, body bytes), ...]             (CONNACK, SUBACK, PINGRESP, ...)

A frame cut by the end of a buffer is kept and completed by the next call.
Anything a broker may not send (a reserved packet type, a remaining length
longer than 4 bytes or above `max_packet`, a PUBLISH with QoS 3 or a topic
longer than its packet) raises `FrameError`; the connection must then be
closed (and the parser `reset()`).

Builders: `pubacks(pids)` (all PUBACKs of a batch as one bytes, one write) and
`publish_frame(topic, payload, qos, pid, dup, protocol)`.

`ReadingDecoder(features, channels, size).decode(payload)`: a DESIGN.md JSON reading straight
into the model's float32 input row (or None: take the general json.loads path).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy

from runtime.errors import EmberError


class FrameError(EmberError, ValueError):
    """The broker sent bytes that are not a valid MQTT packet for a client; close the connection."""


cdef enum:
    _PUBLISH = 3
    _PUBACK = 4
    _PUBREL = 6

# Packet types a server may send to a client (MQTT 3.1.1 section 2.2.1: CONNACK, PUBLISH, PUBACK,
# PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP; MQTT 5 adds DISCONNECT and AUTH).
cdef unsigned int _FROM_SERVER_V4 = 0x2AFC
cdef unsigned int _FROM_SERVER_V5 = 0xEAFC
_NAMES = ("reserved (0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
          "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH")


cdef inline Py_ssize_t _varint(const unsigned char *p, Py_ssize_t avail, Py_ssize_t *value) except -2:
    """Decode a variable byte integer; returns its size, 0 if incomplete; raises if longer than 4."""
    cdef Py_ssize_t i = 0, v = 0, shift = 0
    cdef unsigned char b
    while i < avail:
        if i == 4:
            raise FrameError("remaining length longer than 4 bytes (malformed frame)")
        b = p[i]
        v |= <Py_ssize_t>(b & 0x7F) << shift
        shift += 7
        i += 1
        if not (b & 0x80):
            value[0] = v
            return i
    if avail >= 4:
        raise FrameError("remaining length longer than 4 bytes (malformed frame)")
    return 0


cdef class FrameParser:
    """Cuts a byte stream from a broker into MQTT packets (see the module docstring)."""

    cdef readonly int protocol
    cdef readonly Py_ssize_t max_packet
    cdef bytearray _pending
    cdef Py_ssize_t _need          # length of the pending frame once known, else 0
    cdef readonly unsigned long long packets

    def __init__(self, int protocol=4, Py_ssize_t max_packet=1 << 20):
        if protocol not in (4, 5):
            raise ValueError(f"protocol must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got {protocol}")
        if max_packet < 2 or max_packet > 268435460:
            raise ValueError(f"max_packet must be between 2 and 268435460 bytes, got {max_packet}")
        self.protocol = protocol
        self.max_packet = max_packet
        self._pending = bytearray()
        self._need = 0
        self.packets = 0

    def reset(self):
        """Forget a partial frame (after a reconnect)."""
        self._pending = bytearray()
        self._need = 0

    @property
    def pending(self):
        """Bytes of an incomplete frame held for the next parse()."""
        return len(self._pending)

    def parse(self, data):
        """Parse every complete packet of `data` (bytes-like) after what is pending."""
        r = self._feed(data, None, None, False)
        return r[0], r[2], r[3]

    def parse_items(self, data, t, gen):
        """parse() for the core's inbox: (items, payload bytes, acks, others) where items are
        (topic, payload, t, packet id, qos, gen) tuples."""
        return self._feed(data, t, gen, True)

    cdef tuple _feed(self, data, object t, object gen, bint items):
        cdef const unsigned char[::1] view
        cdef Py_ssize_t n
        if self._pending:
            self._pending += data
            if self._need and len(self._pending) < self._need:
                return [], 0, [], []
            buf = bytes(self._pending)
            self._pending = bytearray()
            self._need = 0
        else:
            buf = data
        view = buf
        n = view.shape[0]
        if n == 0:
            return [], 0, [], []
        return self._cut(buf, &view[0], n, t, gen, items)

    cdef tuple _cut(self, object owner, const unsigned char *p, Py_ssize_t n, object t, object gen, bint items):
        cdef list publishes = [], acks = [], others = []
        cdef Py_ssize_t nbytes = 0
        cdef Py_ssize_t pos = 0, hl, rl, end, body, tl, pid, props, pl, plen
        cdef int ptype, flags, qos
        cdef unsigned char h
        cdef bint v5 = self.protocol == 5
        cdef unsigned int allowed = _FROM_SERVER_V5 if v5 else _FROM_SERVER_V4
        self._need = 0
        while pos < n:
            if n - pos < 2:
                break
            h = p[pos]
            ptype = h >> 4
            flags = h & 0x0F
            if not (allowed >> ptype) & 1:
                raise FrameError(f"unexpected packet type {ptype} ({_NAMES[ptype]}) from the broker at byte {pos}")
            if ptype != _PUBLISH and flags != (2 if ptype == _PUBREL else 0):
                raise FrameError(f"{_NAMES[ptype]} with reserved flags {flags:#x} (malformed frame)")
            hl = _varint(p + pos + 1, n - pos - 1, &rl)
            if hl == 0:
                break
            if rl + 1 + hl > self.max_packet:
                raise FrameError(f"{_NAMES[ptype]} packet of {rl + 1 + hl} bytes exceeds the "
                                 f"{self.max_packet}-byte limit")
            body = pos + 1 + hl
            end = body + rl
            if end > n:
                self._need = end - pos
                break
            self.packets += 1
            if ptype == _PUBLISH:
                qos = (flags >> 1) & 3
                if qos == 3:
                    raise FrameError("PUBLISH with QoS 3 (malformed frame)")
                if rl < 2:
                    raise FrameError("PUBLISH shorter than its topic length")
                tl = (p[body] << 8) | p[body + 1]
                pl = body + 2 + tl
                pid = 0
                if qos:
                    if pl + 2 > end:
                        raise FrameError("PUBLISH shorter than its topic and packet id")
                    pid = (p[pl] << 8) | p[pl + 1]
                    if pid == 0:
                        raise FrameError("PUBLISH with QoS > 0 and packet id 0")
                    pl += 2
                elif pl > end:
                    raise FrameError("PUBLISH shorter than its topic")
                if v5:
                    hl = _varint(p + pl, end - pl, &props)
                    if hl == 0 or pl + hl + props > end:
                        raise FrameError("PUBLISH properties run past the end of the packet")
                    pl += hl + props
                try:
                    topic = PyUnicode_DecodeUTF8(<const char *>(p + body + 2), tl, NULL)
                except UnicodeDecodeError:
                    raise FrameError("PUBLISH topic is not valid UTF-8") from None
                payload = PyBytes_FromStringAndSize(<const char *>(p + pl), end - pl)
                nbytes += end - pl
                if items:
                    publishes.append((topic, payload, t, pid, qos, gen))
                else:
                    publishes.append((topic, payload, pid, qos))
            elif ptype == _PUBACK:
                if rl < 2:
                    raise FrameError("PUBACK shorter than its packet id")
                acks.append(((p[body] << 8) | p[body + 1], p[body + 2] if rl > 2 else 0))
            else:
                others.append((ptype, flags, PyBytes_FromStringAndSize(<const char *>(p + body), rl)))
            pos = end
        if pos < n:
            self._pending = bytearray(owner[pos:])
        return publishes, nbytes, acks, others


def pubacks(pids):
    """All PUBACKs (MQTT 3.1.1 and 5: 0x40 0x02 id) for the packet ids in `pids`, as one bytes."""
    cdef Py_ssize_t n = len(pids), i = 0
    cdef long pid
    out = PyBytes_FromStringAndSize(NULL, 4 * n)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    for x in pids:
        pid = x
        if pid < 1 or pid > 65535:
            raise ValueError(f"packet id {pid} is not in 1..65535")
        o[i] = 0x40
        o[i + 1] = 2
        o[i + 2] = (pid >> 8) & 0xFF
        o[i + 3] = pid & 0xFF
        i += 4
    return out


def publish_frame(topic, payload, int qos=1, int pid=0, bint dup=False, int protocol=4):
    """One PUBLISH packet (no properties in MQTT 5) for `topic` (str) and `payload` (bytes)."""
    cdef bytes t = topic.encode("utf-8") if isinstance(topic, str) else bytes(topic)
    cdef const unsigned char[::1] pv = payload
    cdef Py_ssize_t tl = len(t), plen = pv.shape[0]
    cdef Py_ssize_t rl, hl = 0, i = 0, size
    if qos not in (0, 1):
        raise ValueError(f"qos must be 0 or 1, got {qos}")
    if tl > 65535:
        raise ValueError("topic longer than 65535 bytes")
    if qos and (pid < 1 or pid > 65535):
        raise ValueError(f"packet id {pid} is not in 1..65535")
    rl = 2 + tl + (2 if qos else 0) + (1 if protocol == 5 else 0) + plen
    if rl > 268435455:
        raise ValueError("PUBLISH larger than MQTT's 256 MB limit")
    size = rl
    hl = 1
    while size >= 128:
        size >>= 7
        hl += 1
    out = PyBytes_FromStringAndSize(NULL, 1 + hl + rl)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    o[0] = 0x30 | (0x08 if dup and qos else 0) | (qos << 1)
    size = rl
    i = 1
    while True:
        o[i] = size & 0x7F
        size >>= 7
        if size:
            o[i] |= 0x80
            i += 1
        else:
            i += 1
            break
    o[i] = tl >> 8
    o[i + 1] = tl & 0xFF
    i += 2
    memcpy(o + i, PyBytes_AS_STRING(t), tl)
    i += tl
    if qos:
        o[i] = pid >> 8
        o[i + 1] = pid & 0xFF
        i += 2
    if protocol == 5:
        o[i] = 0
        i += 1
    if plen:
        memcpy(o + i, &pv[0], plen)
    return out


# ---------------------------------------------------------------- JSON readings
from libc.stdlib cimport malloc, realloc, free, strtod
from libc.string cimport memcmp, strlen

cdef inline Py_ssize_t _ws(const unsigned char *p, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (p[i] == 32 or p[i] == 10 or p[i] == 13 or p[i] == 9):
        i += 1
    return i


cdef inline Py_ssize_t _key(const unsigned char *p, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *ks,
                            Py_ssize_t *kl) noexcept nogil:
    """A plain (no escapes) JSON object key and its ':' at p[i:]: sets *ks/*kl to the key's start
    and length and returns the position of the value (whitespace skipped), -1 when not there."""
    if i >= n or p[i] != 34:                                  # '"'
        return -1
    ks[0] = i + 1
    i += 1
    while i < n and p[i] != 34 and p[i] != 92:
        i += 1
    if i >= n or p[i] != 34:
        return -1
    kl[0] = i - ks[0]
    i = _ws(p, i + 1, n)
    if i >= n or p[i] != 58:                                  # ':'
        return -1
    return _ws(p, i + 1, n)


cdef inline Py_ssize_t _number(const unsigned char *p, Py_ssize_t i, Py_ssize_t n, bint *integral) noexcept nogil:
    """End of the JSON number at p[i] (-1 if there is none); integral: no fraction or exponent."""
    cdef Py_ssize_t s
    integral[0] = True
    if i < n and p[i] == 45:                      # '-'
        i += 1
    if i >= n:
        return -1
    if p[i] == 48:                                # '0'
        i += 1
    elif 49 <= p[i] <= 57:
        while i < n and 48 <= p[i] <= 57:
            i += 1
    else:
        return -1
    if i < n and p[i] == 46:                      # '.'
        integral[0] = False
        i += 1
        s = i
        while i < n and 48 <= p[i] <= 57:
            i += 1
        if i == s:
            return -1
    if i < n and (p[i] == 101 or p[i] == 69):     # 'e' 'E'
        integral[0] = False
        i += 1
        if i < n and (p[i] == 43 or p[i] == 45):
            i += 1
        s = i
        while i < n and 48 <= p[i] <= 57:
            i += 1
        if i == s:
            return -1
    return i


cdef class ReadingDecoder:
    """The DESIGN.md JSON reading `{"seq": int, "t": int, "f": {name: number}, "ch": {name: number
    | [numbers]}}` straight into a model's float32 input row, in route order (features: "f" first,
    else "ch"; then channels: "ch" first, else "f"; concatenated), without building Python objects.

    decode(payload) -> (seq, t, float32 row of `size`) or None. None means "not the plain form":
    escapes in keys, other top-level keys, nested values, a missing name, a different total size,
    non-integer seq/t, integers of more than 15 digits, anything json.loads would reject... The
    caller then takes the general path (json.loads), which gives the reason for a rejection, so
    this fast path changes no result and no error; values are converted exactly as the general
    path does (correctly rounded decimal -> double -> float32).
    """

    cdef tuple _names                 # route names as UTF-8 bytes: features, then channels
    cdef Py_ssize_t _nf, _n, size
    cdef double *_vals
    cdef Py_ssize_t _cap
    cdef Py_ssize_t *_span            # per name and source (0 = "f", 1 = "ch"): start, count (-1: absent)
    cdef object _np

    def __cinit__(self):
        self._vals = NULL
        self._span = NULL

    def __init__(self, features, channels, Py_ssize_t size):
        import numpy
        self._np = numpy
        self._names = tuple(s.encode("utf-8") for s in list(features) + list(channels))
        self._nf = len(features)
        self._n = len(self._names)
        self.size = size
        if self._n == 0 or size <= 0:
            raise ValueError("ReadingDecoder needs route features or channels and a positive size")
        self._cap = max(64, 2 * size)
        self._vals = <double *>malloc(self._cap * sizeof(double))
        self._span = <Py_ssize_t *>malloc(4 * self._n * sizeof(Py_ssize_t))
        if self._vals == NULL or self._span == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self._vals)
        free(self._span)

    cdef int _push(self, Py_ssize_t k, double v) except -1:
        cdef double *grown
        if k >= self._cap:
            grown = <double *>realloc(self._vals, 2 * self._cap * sizeof(double))
            if grown == NULL:
                raise MemoryError()
            self._vals = grown
            self._cap *= 2
        self._vals[k] = v
        return 0

    cdef Py_ssize_t _find(self, const unsigned char *key, Py_ssize_t kl):
        cdef Py_ssize_t j
        cdef bytes name
        for j in range(self._n):
            name = <bytes>self._names[j]
            if len(name) == kl and memcmp(PyBytes_AS_STRING(name), key, kl) == 0:
                return j
        return -1

    def decode(self, payload):
        if type(payload) is not bytes:
            return None
        cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(payload)
        cdef Py_ssize_t n = len(payload)
        cdef Py_ssize_t i, e, ks, kl, j, k = 0, src, start, total, m, c
        cdef long long seq = -1, t = 0
        cdef bint integral, seen_f = False, seen_ch = False, first
        cdef double v
        for j in range(4 * self._n):
            self._span[j] = -1
        i = _ws(p, 0, n)
        if i >= n or p[i] != 123:                             # '{'
            return None
        i = _ws(p, i + 1, n)
        if i < n and p[i] == 125:                             # '{}'
            return None
        while True:
            i = _key(p, i, n, &ks, &kl)                       # "key" :
            if i < 0:
                return None
            if (kl == 3 and memcmp(p + ks, b"seq", 3) == 0) or (kl == 1 and p[ks] == 116):
                e = _number(p, i, n, &integral)
                if e < 0 or not integral or e - i - (p[i] == 45) > 15:
                    return None
                if kl == 3:
                    seq = <long long>strtod(<const char *>(p + i), NULL)
                else:
                    t = <long long>strtod(<const char *>(p + i), NULL)
                i = e
            elif (kl == 1 and p[ks] == 102) or (kl == 2 and p[ks] == 99 and p[ks + 1] == 104):
                src = 0 if kl == 1 else 1
                if (seen_f if src == 0 else seen_ch):
                    return None                               # a repeated object replaces the first
                if src == 0:
                    seen_f = True
                else:
                    seen_ch = True
                if i >= n or p[i] != 123:
                    return None
                i = _ws(p, i + 1, n)
                first = True
                while not (i < n and p[i] == 125 and first):
                    i = _key(p, i, n, &ks, &kl)
                    if i < 0:
                        return None
                    j = self._find(p + ks, kl)
                    start = k
                    if i < n and p[i] == 91:                  # '[' numbers ']'
                        i = _ws(p, i + 1, n)
                        if i < n and p[i] == 93:
                            i += 1
                        else:
                            while True:
                                e = _number(p, i, n, &integral)
                                if e < 0 or (integral and e - i - (p[i] == 45) > 15):
                                    return None
                                if j >= 0:
                                    self._push(k, strtod(<const char *>(p + i), NULL))
                                    k += 1
                                i = _ws(p, e, n)
                                if i < n and p[i] == 44:
                                    i = _ws(p, i + 1, n)
                                    continue
                                if i < n and p[i] == 93:
                                    i += 1
                                    break
                                return None
                    else:
                        e = _number(p, i, n, &integral)
                        if e < 0 or (integral and e - i - (p[i] == 45) > 15):
                            return None
                        if j >= 0:
                            self._push(k, strtod(<const char *>(p + i), NULL))
                            k += 1
                        i = e
                    if j >= 0:                                # last one wins, as in json.loads
                        self._span[4 * j + 2 * src] = start
                        self._span[4 * j + 2 * src + 1] = k - start
                    first = False
                    i = _ws(p, i, n)
                    if i < n and p[i] == 44:
                        i = _ws(p, i + 1, n)
                        continue
                    if i < n and p[i] == 125:
                        break
                    return None
                i += 1
            else:
                return None                                   # another top-level key: general path
            i = _ws(p, i, n)
            if i < n and p[i] == 44:
                i = _ws(p, i + 1, n)
                continue
            if i < n and p[i] == 125:
                break
            return None
        if _ws(p, i + 1, n) != n:
            return None
        total = 0
        for j in range(self._n):                              # features: "f" first; channels: "ch" first
            src = 0 if j < self._nf else 1
            if self._span[4 * j + 2 * src] < 0:
                src = 1 - src
                if self._span[4 * j + 2 * src] < 0:
                    return None
            total += self._span[4 * j + 2 * src + 1]
        if total != self.size:
            return None
        row = self._np.empty(total, self._np.float32)
        cdef float[::1] out = row
        m = 0
        for j in range(self._n):
            src = 0 if j < self._nf else 1
            if self._span[4 * j + 2 * src] < 0:
                src = 1 - src
            start = self._span[4 * j + 2 * src]
            for c in range(self._span[4 * j + 2 * src + 1]):
                out[m] = <float>self._vals[start + c]
                m += 1
        return seq, t, row


# ---------------------------------------------------------------- result JSON
from cpython.mem cimport PyMem_Free
from libc.stdio cimport snprintf

cdef extern from "Python.h":
    char *PyOS_double_to_string(double val, char format_code, int precision, int flags, int *ptype) except NULL
    int Py_DTSF_ADD_DOT_0


cdef inline Py_ssize_t _put(char *o, Py_ssize_t i, const char *s, Py_ssize_t n) noexcept:
    memcpy(o + i, s, n)
    return i + n


cdef Py_ssize_t _put_float(char *o, Py_ssize_t i, double v) except -1:
    cdef char *s = PyOS_double_to_string(v, b'r', 0, Py_DTSF_ADD_DOT_0, NULL)   # float.__repr__
    cdef Py_ssize_t n = strlen(s)
    memcpy(o + i, s, n)
    PyMem_Free(s)
    return i + n


def result_json(bytes head, list q, list outputs, double score, label, long long seq, long long t,
                double latency_ms, bytes rid):
    """One result message as json.dumps(separators=(",", ":")) writes the core's result dict:
    head + `"q":[..],"outputs":[..],"score":s[,"label":"l"],"seq":n,"t":n,"latency_ms":x,"rid":"rid"}`.
    head is `{"node":...,"model":...,"version":...,` and it, label and rid must need no JSON
    escaping (the caller checks; values are finite: dequantized int8)."""
    cdef bytes lab = b"" if label is None else (<str>label).encode("ascii")
    cdef Py_ssize_t cap = len(head) + len(rid) + len(lab) + 32 * (len(q) + len(outputs)) + 160
    out = PyBytes_FromStringAndSize(NULL, cap)
    cdef char *o = PyBytes_AS_STRING(out)
    cdef Py_ssize_t i = 0, j
    cdef char num[128]
    i = _put(o, i, PyBytes_AS_STRING(head), len(head))
    i = _put(o, i, b'"q":[', 5)
    for j in range(len(q)):
        if j:
            o[i] = 44
            i += 1
        i = _put(o, i, num, snprintf(num, 128, "%lld", <long long>q[j]))
    i = _put(o, i, b'],"outputs":[', 13)
    for j in range(len(outputs)):
        if j:
            o[i] = 44
            i += 1
        i = _put_float(o, i, <double>outputs[j])
    i = _put(o, i, b'],"score":', 10)
    i = _put_float(o, i, score)
    if label is not None:
        i = _put(o, i, b',"label":"', 10)
        i = _put(o, i, PyBytes_AS_STRING(lab), len(lab))
        o[i] = 34
        i += 1
    i = _put(o, i, num, snprintf(num, 128, ',"seq":%lld,"t":%lld,"latency_ms":', seq, t))
    i = _put_float(o, i, latency_ms)
    i = _put(o, i, b',"rid":"', 8)
    i = _put(o, i, PyBytes_AS_STRING(rid), len(rid))
    i = _put(o, i, b'"}', 2)
    return out[:i]
