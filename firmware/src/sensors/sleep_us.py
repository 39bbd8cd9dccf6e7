"""time.sleep_us where it exists (MicroPython), a float sleep elsewhere."""
try:
    from time import sleep_us  # type: ignore
except ImportError:
    import time as _time

    def sleep_us(us):  # type: ignore
        _time.sleep(us / 1000000)
