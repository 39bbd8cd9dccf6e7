"""Portability shim: the same node code runs on MicroPython boards, the
MicroPython unix port and CPython (the core's `ember demo` imports it).

Only the handful of names that differ between the two are defined here.
"""
try:
    from micropython import const  # type: ignore
except ImportError:  # CPython

    def const(x):  # type: ignore
        return x


try:
    from time import ticks_ms, ticks_diff, ticks_add, sleep_ms  # type: ignore
except ImportError:  # CPython
    import time as _time

    _mono = getattr(_time, "monotonic")
    _T0 = _mono()
    _MASK = (1 << 30) - 1  # MicroPython ticks wrap at 2**30 on most ports

    def ticks_ms():  # type: ignore
        return int((_mono() - _T0) * 1000) & _MASK

    def ticks_diff(a, b):  # type: ignore
        d = (a - b) & _MASK
        return d - (_MASK + 1) if d > (_MASK >> 1) else d

    def ticks_add(a, d):  # type: ignore
        return (a + d) & _MASK

    def sleep_ms(ms):  # type: ignore
        _time.sleep(ms / 1000)


try:
    import gc as _gc

    mem_free = _gc.mem_free  # type: ignore
except AttributeError:  # CPython has no heap counter

    def mem_free():  # type: ignore
        return -1


def is_timeout(exc):
    """True when an OSError from a socket call means 'timed out', not 'broken'."""
    if exc.__class__.__name__ in ("timeout", "TimeoutError"):
        return True
    code = exc.args[0] if exc.args else None
    return code in (11, 110, 116)  # EAGAIN, ETIMEDOUT (Linux), ETIMEDOUT (lwIP)
