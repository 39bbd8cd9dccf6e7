"""The worker takes node messages in batches bounded by count and payload bytes (runtime/core/service.py:
a batch's decoded readings and results take many times its payload bytes, so the byte bound caps the
core's peak memory), in arrival order, and the inbox byte count goes back to zero."""
import threading

from runtime.core import service
from runtime.core.config import parse_config
from runtime.core.service import Core
from tests.core_models import KWS, load_model


def test_worker_batches_are_bounded_in_bytes_and_count(tmp_path):
    cfg = parse_config({"core": {"data_dir": str(tmp_path)}, "broker": {"host": "127.0.0.1"},
                        "models": [{"name": "kws", "path": str(KWS), "channels": ["mfcc"]}]})
    core = Core(cfg, loader=load_model, extensions=False)
    batches = []
    done = threading.Event()

    def record(items):
        batches.append([it[3] for it in items])
        if sum(len(b) for b in batches) == total:
            done.set()

    core._process = record
    big, small = b"x" * 3000, b"y" * 10
    items = [("ember/nodes/n1/data", big, 0.0, i, 1, 0) for i in range(200)]          # 600 kB
    items += [("ember/nodes/n1/data", small, 0.0, 200 + i, 1, 0) for i in range(service.BATCH_ITEMS + 10)]
    total = len(items)
    core._inbox.extend(items)
    core._inbox_bytes = sum(len(it[1]) + service.MSG_OVERHEAD for it in items)   # as _deliver counts
    t = threading.Thread(target=core._work, daemon=True)
    t.start()
    core._wake.set()
    try:
        assert done.wait(20)
    finally:
        core._stop.set()
        core._wake.set()
        t.join(10)
    assert [m for b in batches for m in b] == list(range(total))                  # all, in order
    sizes = {it[3]: len(it[1]) for it in items}
    for b in batches:
        assert len(b) <= service.BATCH_ITEMS
        # a batch stops at the first message that reaches the byte bound
        assert sum(sizes[m] for m in b[:-1]) < service.BATCH_BYTES
    assert len(batches) >= 600_000 // service.BATCH_BYTES + 1
    assert core._inbox_bytes == 0 and not core._inbox
