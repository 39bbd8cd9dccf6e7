"""Entry point on the board (runs after boot.py). A crash resets the board
after a pause so a broken config cannot spin the CPU or brick the node."""
import app

try:
    app.main("node.json")
except Exception as e:  # keep the reason visible on the REPL, then restart cleanly
    import sys
    import time

    sys.print_exception(e)  # type: ignore[attr-defined]
    time.sleep(10)
    import machine

    machine.reset()
