"""Bounded polling for the tests: wait until a condition holds, never longer than a deadline."""
from __future__ import annotations

import time


def wait_for(cond, timeout: float = 20.0, interval: float = 0.02):
    """Call cond() every `interval` s until it returns something truthy or `timeout` s passed;
    returns that value (or cond()'s last answer at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    return cond()
