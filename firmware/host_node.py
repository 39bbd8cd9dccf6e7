"""Run a node on a host: the MicroPython unix port or CPython.

    MICROPYPATH=firmware/fakes:firmware/src:.frozen micropython firmware/host_node.py node.json [steps] [drain_ms]
    python firmware/host_node.py node.json [steps] [drain_ms]

``node.json`` normally uses ``"board": "host"`` and the ``sim_env`` /
``sim_vib`` sensors. After ``steps`` samples (0 = forever) the node drains its
buffer for up to ``drain_ms`` and prints one JSON line of statistics.

For the core's ``ember demo``: put ``firmware/src`` and ``firmware/fakes`` on
``sys.path`` and use ``node.Node`` + ``link.Link`` directly (see node.py).
"""
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
for _p in (_here + "/fakes", _here + "/src"):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import json  # noqa: E402

import app  # noqa: E402
from config import load  # noqa: E402


def main(argv):
    path = argv[1] if len(argv) > 1 else "node.json"
    steps = int(argv[2]) if len(argv) > 2 else 0
    drain_ms = int(argv[3]) if len(argv) > 3 else 5000
    node = app.build(load(path))
    node.run(steps)
    node.flush(drain_ms)
    link = node.link
    print(json.dumps({"steps": node.steps, "seq": node.seq, "dropped": link.dropped,
                      "pending": link.pending, "connects": link.connects,
                      "retransmits": link.retransmits, "accepted": node.accepted,
                      "rejected": node.rejected, "last_error": repr(link.last_error)}))
    link.close()


if __name__ == "__main__":
    main(sys.argv)
