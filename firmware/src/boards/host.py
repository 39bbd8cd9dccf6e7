"""The MicroPython unix port and CPython: no network bring-up, peripherals
and watchdog from ``firmware/fakes/machine.py``, RTC memory kept in RAM."""
import machine


def net_up(cfg, wdt=None, timeout_ms=0):
    return True


def i2c(spec):
    return machine.I2C(spec.get("bus", 0))


def adc(pin):
    return machine.ADC(machine.Pin(pin))


def watchdog(timeout_ms):
    return machine.WDT(timeout=timeout_ms)


class Sleeper:
    def __init__(self):
        self.rtc = machine.RTC()

    def save(self, blob):
        self.rtc.memory(blob)

    def load(self):
        blob = self.rtc.memory()
        return bytes(blob) if blob else None

    def woke(self):
        return machine.reset_cause() == machine.DEEPSLEEP_RESET

    def deepsleep(self, ms):
        machine.deepsleep(ms)
