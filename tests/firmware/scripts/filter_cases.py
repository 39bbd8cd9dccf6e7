# Runs under the MicroPython unix port and CPython (firmware/src and
# firmware/fakes on the path); prints one JSON line [name, outputs] per
# filter case, floats as IEEE-754 hex so the two runs can be compared exactly.
import json
import struct

from filters import EMA, Chain, Deadband, Median, MovingAverage, RateLimit, Window, build_chain, features
from sensors.simulated import XorShift, SimulatedEnv, SimulatedVibration


def enc(v):
    if v is None:
        return None
    if isinstance(v, tuple):
        return [enc(x) for x in v]
    return "".join("%02x" % b for b in struct.pack("<d", v))


def signal(n, seed):
    r = XorShift(seed)
    out = []
    level = 0.0
    for k in range(n):
        level += 0.05 * r.noise()
        x = level + 0.2 * r.noise()
        if k % 17 == 5:
            x += 4.0  # outliers for the median
        out.append(x)
    return out


def run(stage, xs, dt=100):
    out = []
    t = 0
    for x in xs:
        v = stage.update(x, t)
        out.append("-" if v is None else enc(v))
        t += dt
    return ",".join(out)


class Results:
    """Prints each series as one JSON line as soon as it is computed (keeps
    the unix port's heap small)."""

    def __setitem__(self, key, value):
        print(json.dumps([key, value]))


xs = signal(300, 7)
steps = [0.0] * 10 + [1.0] * 10 + [0.5] * 10 + [-3.0] * 10
res = Results()
for n in (1, 2, 3, 5, 8):
    res["median%d" % n] = run(Median(n), xs)
    res["avg%d" % n] = run(MovingAverage(n), xs)
res["median5_steps"] = run(Median(5), steps)
for a in (1.0, 0.5, 0.1):
    res["ema%s" % a] = run(EMA(a), xs)
for d, hb in ((0.0, 0), (0.25, 0), (0.5, 0), (0.5, 2000), (1.0, 500)):
    res["deadband%s_%d" % (d, hb)] = run(Deadband(d, hb), xs)
for iv in (0, 100, 250, 1000):
    res["rate%d" % iv] = run(RateLimit(iv), xs)
res["chain"] = run(Chain([Median(5), EMA(0.3), Deadband(0.2, 3000), RateLimit(200)]), xs)
res["chain_nan"] = run(Chain([Median(3), Deadband(0.1)]), [1.0, float("nan"), 2.0, float("nan"), 1.0, 1.5])
res["built"] = run(build_chain([{"type": "median", "n": 3}, {"type": "avg", "n": 4}, {"type": "ema", "alpha": 0.2},
                                {"type": "deadband", "delta": 0.1, "heartbeat_ms": 1500},
                                {"type": "rate", "interval_ms": 300}]), xs)
w = Window(16)
res["window"] = [enc(w.add(x)) for x in xs[:64]]
v = SimulatedVibration(seed=3)
buf = [0.0] * 64
v.burst(buf)
res["vib_ok"] = enc(features(buf))
v.inject("bearing")
v.burst(buf)
res["vib_bearing"] = enc(features(buf))
e = SimulatedEnv(seed=5)
res["env"] = [enc(e.read()) for _ in range(20)]
e.inject("spike")
res["env_spike"] = [enc(e.read()) for _ in range(60)]
