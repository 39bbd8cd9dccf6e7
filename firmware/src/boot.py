"""Runs first on every boot: make the app modules under /lib importable and
keep the REPL quiet. Nothing here may block."""
import sys

if "/lib" not in sys.path:
    sys.path.append("/lib")
