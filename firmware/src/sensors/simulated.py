"""Deterministic simulated sensors for the host, tests and ``ember demo``.

A tiny xorshift32 generator makes the sequence identical under MicroPython
and CPython for the same seed. Faults can be injected at run time:
  "stuck"   the reading freezes at its current value
  "spike"   every 50th reading is an outlier (+ spike_size)
  "dropout" readings are NaN (sensor not answering)
  "drift"   a slow additive ramp (drift_per_s per second)
  "bearing" (vibration) periodic impacts that raise peak and crest factor
"""
from math import pi, sin

NAN = float("nan")


class XorShift:
    def __init__(self, seed=1):
        self.s = (seed & 0xFFFFFFFF) or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def uniform(self):
        """In [0, 1)."""
        return (self.next() >> 8) / 16777216.0

    def noise(self):
        """Approximately normal, mean 0, standard deviation 1 (sum of 4 uniforms)."""
        return (self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0) * 1.7320508075688772


class SimulatedEnv:
    """Temperature and humidity: a slow daily-like sine, plus noise."""

    def __init__(self, seed=1, base=21.0, swing=2.0, period_s=600.0, noise=0.02, dt_s=1.0,
                 names=("temp", "rh")):
        self.rng = XorShift(seed)
        self.names = names
        self.base = base
        self.swing = swing
        self.period_s = period_s
        self.noise = noise
        self.dt_s = dt_s
        self.t = 0.0
        self.faults = {}
        self.spike_size = 25.0
        self.drift_per_s = 0.01
        self._n = 0
        self._last = (base, 50.0)

    def inject(self, fault, on=True):
        if fault not in ("stuck", "spike", "dropout", "drift"):
            raise ValueError("unknown fault %r" % fault)
        if on:
            self.faults[fault] = self.t
        else:
            self.faults.pop(fault, None)

    def read(self):
        self.t += self.dt_s
        self._n += 1
        f = self.faults
        if "dropout" in f:
            return NAN, NAN
        if "stuck" in f:
            return self._last
        ph = 2.0 * pi * self.t / self.period_s
        temp = self.base + self.swing * sin(ph) + self.noise * self.rng.noise()
        rh = 50.0 - 10.0 * sin(ph) + 5 * self.noise * self.rng.noise()
        if "drift" in f:
            temp += self.drift_per_s * (self.t - f["drift"])
        if "spike" in f and self._n % 50 == 0:
            temp += self.spike_size
        self._last = (temp, rh)
        return self._last


class SimulatedVibration:
    """A machine vibration at ``freq_hz`` sampled at ``rate_hz``; ``burst``
    fills a window. The "bearing" fault adds an impact every ``impact_every``
    samples that decays over a few samples."""

    def __init__(self, seed=2, rate_hz=1000, freq_hz=50.0, amp=0.5, noise=0.05, names=("vib",)):
        self.rng = XorShift(seed)
        self.names = names
        self.rate_hz = rate_hz
        self.freq_hz = freq_hz
        self.amp = amp
        self.noise = noise
        self.n = 0
        self.faults = {}
        self.impact_every = 37
        self.impact_amp = 3.0

    def inject(self, fault, on=True):
        if fault not in ("bearing", "stuck", "dropout"):
            raise ValueError("unknown fault %r" % fault)
        if on:
            self.faults[fault] = self.n
        else:
            self.faults.pop(fault, None)

    def sample(self):
        self.n += 1
        f = self.faults
        if "dropout" in f:
            return 0.0
        if "stuck" in f:
            return self.amp
        x = self.amp * sin(2.0 * pi * self.freq_hz * self.n / self.rate_hz) + self.noise * self.rng.noise()
        if "bearing" in f:
            k = self.n % self.impact_every
            if k < 4:
                x += self.impact_amp / (1 + k * k)
        return x

    def burst(self, buf):
        for k in range(len(buf)):
            buf[k] = self.sample()

    def read(self):
        return (self.sample(),)
