"""On-node signal filters, composable per channel.

Every stage has ``update(x, t_ms)`` returning the (possibly transformed)
value, or ``None`` when the stage suppresses the sample; a ``Chain`` runs
stages in order and stops at the first ``None``. State lives in buffers
allocated once in ``__init__`` so the sample loop does not grow the heap.

Stages:
  Median(n)                   running median of the last n samples
  MovingAverage(n)            mean of the last n samples
  EMA(alpha)                  exponential moving average
  Deadband(delta, heartbeat)  send-on-delta: pass when |x - last sent| >= delta,
                              or when heartbeat_ms passed since the last send
  RateLimit(min_interval_ms)  pass at most one sample per interval

``Window(n)`` collects n samples and returns vibration features
(mean, RMS, peak, crest factor) for the core to classify.

This module runs unchanged under MicroPython and CPython.
"""
from array import array
from math import sqrt

from compat import ticks_diff


class Median:
    def __init__(self, n):
        if n < 1:
            raise ValueError("median size must be >= 1")
        self.n = n
        self._ring = array("f", [0.0] * n)
        self._sorted = array("f", [0.0] * n)
        self.reset()

    def reset(self):
        self._count = 0
        self._next = 0

    def update(self, x, t_ms=0):
        s = self._sorted
        count = self._count
        if count == self.n:  # remove the oldest from the sorted copy
            old = self._ring[self._next]
            i = 0
            while s[i] != old:
                i += 1
            while i < count - 1:
                s[i] = s[i + 1]
                i += 1
            count -= 1
        self._ring[self._next] = x
        xf = self._ring[self._next]  # the value as stored (float32)
        self._next = (self._next + 1) % self.n
        i = count
        while i > 0 and s[i - 1] > xf:
            s[i] = s[i - 1]
            i -= 1
        s[i] = xf
        count += 1
        self._count = count
        mid = count >> 1
        if count & 1:
            return s[mid]
        return (s[mid - 1] + s[mid]) / 2


class MovingAverage:
    def __init__(self, n):
        if n < 1:
            raise ValueError("moving average size must be >= 1")
        self.n = n
        self._ring = array("f", [0.0] * n)
        self.reset()

    def reset(self):
        self._count = 0
        self._next = 0
        self._sum = 0.0

    def update(self, x, t_ms=0):
        ring = self._ring
        i = self._next
        if self._count == self.n:
            self._sum -= ring[i]
        else:
            self._count += 1
        ring[i] = x
        self._sum += ring[i]
        i = (i + 1) % self.n
        self._next = i
        if i == 0:  # re-sum once per lap so rounding error cannot accumulate
            total = 0.0
            for v in ring:
                total += v
            self._sum = total
        return self._sum / self._count


class EMA:
    def __init__(self, alpha):
        if not 0.0 < alpha <= 1.0:
            raise ValueError("ema alpha must be in (0, 1]")
        self.alpha = alpha
        self.reset()

    def reset(self):
        self.value = None

    def update(self, x, t_ms=0):
        if self.value is None:
            self.value = x
        else:
            self.value += self.alpha * (x - self.value)
        return self.value


class Deadband:
    """Send-on-delta. The receiver holds the last sent value, so between
    sends its reconstruction error is below ``delta``."""

    def __init__(self, delta, heartbeat_ms=0):
        if delta < 0:
            raise ValueError("deadband delta must be >= 0")
        if heartbeat_ms < 0:
            raise ValueError("heartbeat_ms must be >= 0")
        self.delta = delta
        self.heartbeat_ms = heartbeat_ms
        self.reset()

    def reset(self):
        self.last = None
        self.last_t = 0

    def update(self, x, t_ms=0):
        last = self.last
        if (
            last is None
            or abs(x - last) >= self.delta
            or (self.heartbeat_ms and ticks_diff(t_ms, self.last_t) >= self.heartbeat_ms)
        ):
            self.last = x
            self.last_t = t_ms
            return x
        return None


class RateLimit:
    def __init__(self, min_interval_ms):
        if min_interval_ms < 0:
            raise ValueError("rate limit interval must be >= 0")
        self.min_interval_ms = min_interval_ms
        self.reset()

    def reset(self):
        self._last_t = None

    def update(self, x, t_ms=0):
        if self._last_t is None or ticks_diff(t_ms, self._last_t) >= self.min_interval_ms:
            self._last_t = t_ms
            return x
        return None


class Chain:
    def __init__(self, stages):
        self.stages = tuple(stages)

    def reset(self):
        for s in self.stages:
            s.reset()

    def update(self, x, t_ms=0):
        if x != x:  # NaN from a failing sensor never enters the stages
            return None
        for s in self.stages:
            x = s.update(x, t_ms)
            if x is None:
                return None
        return x


class Window:
    """Collects ``n`` samples; when full returns (mean, rms, peak, crest)
    and starts the next window. ``peak`` is the largest |x - 0|; crest
    factor is peak / rms (0 for an all-zero window)."""

    def __init__(self, n):
        if n < 2:
            raise ValueError("window size must be >= 2")
        self.n = n
        self.buf = array("f", [0.0] * n)
        self.count = 0

    def reset(self):
        self.count = 0

    def add(self, x):
        self.buf[self.count] = x
        self.count += 1
        if self.count < self.n:
            return None
        self.count = 0
        return features(self.buf)


def features(buf):
    """(mean, rms, peak, crest) of a sequence of numbers."""
    n = len(buf)
    total = 0.0
    sq = 0.0
    peak = 0.0
    for v in buf:
        total += v
        sq += v * v
        a = abs(v)
        if a > peak:
            peak = a
    rms = sqrt(sq / n)
    return total / n, rms, peak, (peak / rms if rms > 0.0 else 0.0)


STAGES = {
    "median": (Median, ("n",)),
    "avg": (MovingAverage, ("n",)),
    "ema": (EMA, ("alpha",)),
    "deadband": (Deadband, ("delta", "heartbeat_ms")),
    "rate": (RateLimit, ("interval_ms",)),
}


def build_chain(spec):
    """Chain from a list of stage dicts, e.g.
    ``[{"type": "median", "n": 5}, {"type": "deadband", "delta": 0.5, "heartbeat_ms": 60000}]``.
    Raises ValueError naming the bad stage."""
    stages = []
    for i, st in enumerate(spec):
        if not isinstance(st, dict) or st.get("type") not in STAGES:
            raise ValueError("stage %d: type must be one of %s" % (i, ",".join(sorted(STAGES))))
        cls, params = STAGES[st["type"]]
        args = []
        for p in params:
            if p in st:
                v = st[p]
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError("stage %d (%s): %s must be a number" % (i, st["type"], p))
                args.append(v)
            elif p == "heartbeat_ms":
                args.append(0)
            else:
                raise ValueError("stage %d (%s): missing %s" % (i, st["type"], p))
        for k in st:
            if k != "type" and k not in params:
                raise ValueError("stage %d (%s): unknown key %s" % (i, st["type"], k))
        if params[0] == "n" and not isinstance(args[0], int):
            raise ValueError("stage %d (%s): n must be an integer" % (i, st["type"]))
        if params[0] == "n" and args[0] > 64:
            raise ValueError("stage %d (%s): n must be <= 64" % (i, st["type"]))
        try:
            stages.append(cls(*args))
        except ValueError as e:
            raise ValueError("stage %d (%s): %s" % (i, st["type"], e))
    return Chain(stages)
