# 100,000 samples through sensors -> filters -> link under a small heap.
# Usage: micropython -X heapsize=64K memory_run.py PORT STEPS
# Prints one JSON line: mem_free (after gc.collect) at every 10th of the run.
import gc
import json
import sys

from link import Link
from node import Node
from sensors.simulated import SimulatedEnv, SimulatedVibration

port = int(sys.argv[1])
steps = int(sys.argv[2])
link = Link("mem", "127.0.0.1", port, buffer_size=32, keepalive=30, timeout_ms=2000)
app = {"period_ms": 10, "channels": {
    "temp": {"filters": [{"type": "median", "n": 5}, {"type": "ema", "alpha": 0.3},
                         {"type": "deadband", "delta": 0.3, "heartbeat_ms": 5000}]},
    "rh": {"filters": [{"type": "avg", "n": 8}, {"type": "deadband", "delta": 1.0}]},
    "vib": {"window": 16}}}
env = SimulatedEnv(seed=4, period_s=3000.0, dt_s=0.1)
vib = SimulatedVibration(seed=5)
node = Node("mem", link, [env], [vib], app)
sent = 0
marks = []
every = steps // 10
for k in range(steps):
    # vibration features only every 100th step, so most steps are pure filter work
    node.bursts = [vib] if k % 100 == 0 else []
    if node.step(k * 10) is not None:
        sent += 1
    link.service(0)
    if (k + 1) % every == 0:
        gc.collect()
        marks.append(gc.mem_free())
node.flush(5000)
gc.collect()
print(json.dumps({"marks": marks, "sent": sent, "dropped": link.dropped, "pending": link.pending,
                  "connects": link.connects, "end": gc.mem_free()}))
