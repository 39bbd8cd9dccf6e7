# Send-on-delta traffic on a recorded-style synthetic temperature signal:
# 24 h at 1 Hz (86,400 samples): daily swing, an HVAC cycle, a random walk,
# sensor noise and 0.01 degC quantisation. Runs under MicroPython and CPython.
# Prints one JSON line with message counts and reconstruction errors.
import json
from math import pi, sin

from filters import EMA, Chain, Deadband
from sensors.simulated import XorShift

N = 86400
DELTA = 0.2
HEARTBEAT_MS = 900000  # 15 min


def signal(k, walk):
    t = float(k)
    x = 20.0 + 4.0 * sin(2 * pi * t / 86400.0) + 0.8 * sin(2 * pi * t / 5400.0) + walk
    return x


rng = XorShift(11)
walk = 0.0
db = Deadband(DELTA, HEARTBEAT_MS)
chain = Chain([EMA(0.3), Deadband(DELTA, HEARTBEAT_MS)])
sent_db = 0
sent_chain = 0
held_db = None
held_chain = None
err_db = 0.0
err_chain = 0.0
sq_db = 0.0
for k in range(N):
    walk += 0.002 * rng.noise()
    x = signal(k, walk) + 0.02 * rng.noise()
    x = int(x * 100.0 + 0.5) / 100.0  # sensor resolution 0.01
    t = k * 1000
    y = db.update(x, t)
    if y is not None:
        sent_db += 1
        held_db = y
    e = abs(x - held_db)
    sq_db += e * e
    if e > err_db:
        err_db = e
    y = chain.update(x, t)
    if y is not None:
        sent_chain += 1
        held_chain = y
    e = abs(x - held_chain)
    if e > err_chain:
        err_chain = e
print(json.dumps({"raw": N, "sent": sent_db, "reduction": 1.0 - sent_db / N, "max_err": err_db,
                  "rms_err": (sq_db / N) ** 0.5, "delta": DELTA,
                  "ema_sent": sent_chain, "ema_max_err_vs_raw": err_chain}))
