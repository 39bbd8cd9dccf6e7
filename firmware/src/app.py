"""Wires a node together from ``node.json`` and runs it."""
import boards
from config import load
from link import Link
from node import Node
from sensors import factory


def build(cfg, board=None):
    """(node, board, sleeper) from a loaded node config."""
    board = board or boards.load(cfg.get("board", "esp32"))
    wdt_ms = cfg.get("wdt_ms", 30000)
    wdt = board.watchdog(wdt_ms) if wdt_ms else None
    if not board.net_up(cfg, wdt):
        raise OSError("network did not come up")
    scalars, bursts = factory.build(cfg.get("sensors", []), board)
    b = cfg["broker"]
    ssl_context = None
    if b.get("tls"):
        from secure import context
        ssl_context = context(b)
    link = Link(cfg["node_id"], b["host"], b.get("port", 8883 if b.get("tls") else 1883),
                prefix=cfg.get("prefix", "ember"), keepalive=b.get("keepalive", 30),
                buffer_size=cfg.get("buffer", 64), max_inflight=cfg.get("max_inflight", 4),
                retry_ms=cfg.get("retry_ms", 5000), timeout_ms=b.get("timeout_ms", 3000),
                backoff_min_ms=b.get("backoff_min_ms", 250), backoff_max_ms=b.get("backoff_max_ms", 30000),
                user=b.get("user"), password=b.get("password"), ssl_context=ssl_context)
    sleeper = board.Sleeper() if cfg.get("deep_sleep") else None
    node = Node(cfg["node_id"], link, scalars, bursts, cfg.get("app"), wdt, sleeper)
    if sleeper is not None and sleeper.woke():
        blob = sleeper.load()
        if blob:
            node.restore(blob)
    return node


def main(path="node.json", max_steps=0):
    node = build(load(path))
    node.run(max_steps)
    return node
