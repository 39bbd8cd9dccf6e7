"""Memory under a 64 KiB heap for 100,000 samples, and the traffic saved by
send-on-delta (figure printed; quoted in firmware/README.md)."""
import json
import os
import subprocess
import sys

import pytest

from .conftest import FAKES, SRC

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


@pytest.mark.mqtt
def test_100k_samples_in_64k_heap_mem_free_stable(micropython, broker, mpy_src):
    p = micropython(os.path.join(SCRIPTS, "memory_run.py"), broker.port, 100000, heap="64K", timeout=240,
                    src=mpy_src)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    marks = r["marks"]
    print("gc.mem_free() every 10,000 samples (64 KiB heap):", marks, "messages sent:", r["sent"])
    assert len(marks) == 10
    assert r["connects"] == 1 and r["dropped"] == 0 and r["pending"] == 0
    assert r["sent"] > 500  # the link really carried data during the run
    assert max(marks) - min(marks) <= 1024, "free heap drifts: %s" % marks
    assert marks[-1] >= marks[0] - 512 and r["end"] >= marks[0] - 512, "heap leak: %s" % marks


def test_send_on_delta_cuts_traffic_90_percent_within_deadband(micropython):
    script = os.path.join(SCRIPTS, "traffic_run.py")
    mp = json.loads(micropython(script).stdout.strip().splitlines()[-1])
    env = dict(os.environ, PYTHONPATH="%s:%s" % (FAKES, SRC))
    cp = json.loads(subprocess.run([sys.executable, script], env=env, capture_output=True, text=True,
                                   timeout=120, check=True).stdout)
    assert mp == cp  # same decisions on the node and on the host
    print("send-on-delta: %d of %d samples sent (%.2f%% fewer messages), max reconstruction error "
          "%.3f (deadband %.2f), RMS error %.3f; EMA+deadband sent %d"
          % (mp["sent"], mp["raw"], 100 * mp["reduction"], mp["max_err"], mp["delta"], mp["rms_err"],
             mp["ema_sent"]))
    assert mp["reduction"] >= 0.90
    assert mp["max_err"] <= mp["delta"]
    assert mp["sent"] >= 86400 // 900  # at least the heartbeats went out
