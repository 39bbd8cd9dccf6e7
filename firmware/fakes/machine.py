"""Host stand-in for MicroPython's ``machine`` (the unix port has no Pin,
ADC, I2C, WDT or RTC memory). Used by tests, the unix port and CPython.
I2C devices are Python objects attached to a bus (see i2c_devices.py)."""
DEEPSLEEP_RESET = 4
PWRON_RESET = 1
_reset_cause = PWRON_RESET
_rtc_memory = b""
deepsleep_calls = []


class Pin:
    IN = 0
    OUT = 1

    def __init__(self, id, mode=-1, pull=-1):
        self.id = id
        self._v = 0

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0


class ADC:
    ATTN_0DB = 0
    ATTN_11DB = 3
    levels = {}  # pin id -> raw u16 level the fake returns

    def __init__(self, pin):
        self.pin = pin.id if isinstance(pin, Pin) else pin

    def atten(self, a):
        self._atten = a

    def read_u16(self):
        return ADC.levels.get(self.pin, 0)


class I2C:
    buses = {}

    def __new__(cls, id=0, *args, **kw):
        if id not in I2C.buses:
            bus = object.__new__(cls)
            bus.devices = {}
            I2C.buses[id] = bus
        return I2C.buses[id]

    def __init__(self, id=0, *args, **kw):
        pass

    def attach(self, addr, device):
        self.devices[addr] = device

    def _dev(self, addr):
        if addr not in self.devices:
            raise OSError(19)  # ENODEV: no ACK
        return self.devices[addr]

    def scan(self):
        return sorted(self.devices)

    def writeto(self, addr, buf, stop=True):
        self._dev(addr).write(bytes(buf))
        return len(buf)

    def readfrom_into(self, addr, buf, stop=True):
        data = self._dev(addr).read(len(buf))
        buf[:] = data

    def readfrom(self, addr, n, stop=True):
        return self._dev(addr).read(n)

    def writeto_mem(self, addr, reg, buf):
        self._dev(addr).write(bytes((reg,)) + bytes(buf))

    def readfrom_mem(self, addr, reg, n):
        d = self._dev(addr)
        d.write(bytes((reg,)))
        return d.read(n)

    def readfrom_mem_into(self, addr, reg, buf):
        buf[:] = self.readfrom_mem(addr, reg, len(buf))


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class RTC:
    def memory(self, data=None):
        global _rtc_memory
        if data is None:
            return _rtc_memory
        if len(data) > 2048:
            raise ValueError("RTC memory holds at most 2048 bytes")
        _rtc_memory = bytes(data)


def reset_cause():
    return _reset_cause


def deepsleep(ms=0):
    """Records the call and stops the program like a real deep sleep would."""
    global _reset_cause
    deepsleep_calls.append(ms)
    _reset_cause = DEEPSLEEP_RESET
    raise SystemExit("deepsleep")


def unique_id():
    return b"\x00\x11\x22\x33\x44\x55"
