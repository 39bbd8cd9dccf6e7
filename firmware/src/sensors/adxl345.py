"""Analog Devices ADXL345 accelerometer over I2C, full resolution (3.9 mg/LSB).
``read()`` gives one (x, y, z) sample in g; ``burst(buf)`` fills a buffer with
one axis (or the magnitude) at the configured output data rate."""
from math import sqrt

from compat import const
from sensors.sleep_us import sleep_us

ADDR = const(0x53)
_DEVID = const(0x00)
_BW_RATE = const(0x2C)
_POWER_CTL = const(0x2D)
_DATA_FORMAT = const(0x31)
_DATAX0 = const(0x32)
_ID = const(0xE5)
_SCALE = 0.0039  # g per LSB in full-resolution mode
# output data rate (Hz) -> BW_RATE code
RATES = {100: 0x0A, 200: 0x0B, 400: 0x0C, 800: 0x0D, 1600: 0x0E, 3200: 0x0F}
NAN = float("nan")


class ADXL345:
    def __init__(self, i2c, addr=ADDR, rate_hz=800, axis="mag", names=("ax", "ay", "az")):
        if rate_hz not in RATES:
            raise ValueError("adxl345 rate must be one of %s" % sorted(RATES))
        if axis not in ("x", "y", "z", "mag"):
            raise ValueError("adxl345 axis must be x, y, z or mag")
        self.i2c = i2c
        self.addr = addr
        self.names = names
        self.axis = axis
        self.period_us = 1000000 // rate_hz
        self.buf = bytearray(6)
        self.errors = 0
        devid = i2c.readfrom_mem(addr, _DEVID, 1)[0]
        if devid != _ID:
            raise OSError("ADXL345 not found at 0x%02x (DEVID 0x%02x)" % (addr, devid))
        i2c.writeto_mem(addr, _BW_RATE, bytes((RATES[rate_hz],)))
        i2c.writeto_mem(addr, _DATA_FORMAT, b"\x08")  # full resolution, +-2 g
        i2c.writeto_mem(addr, _POWER_CTL, b"\x08")  # measure

    def _raw(self):
        b = self.buf
        self.i2c.readfrom_mem_into(self.addr, _DATAX0, b)
        x = b[0] | (b[1] << 8)
        y = b[2] | (b[3] << 8)
        z = b[4] | (b[5] << 8)
        return (x - 65536 if x & 0x8000 else x), (y - 65536 if y & 0x8000 else y), (z - 65536 if z & 0x8000 else z)

    def read(self):
        try:
            x, y, z = self._raw()
        except OSError:
            self.errors += 1
            return NAN, NAN, NAN
        return x * _SCALE, y * _SCALE, z * _SCALE

    def burst(self, buf):
        axis = self.axis
        for k in range(len(buf)):
            try:
                x, y, z = self._raw()
            except OSError:
                self.errors += 1
                buf[k] = 0.0
                continue
            if axis == "mag":
                buf[k] = sqrt(x * x + y * y + z * z) * _SCALE
            else:
                buf[k] = (x if axis == "x" else y if axis == "y" else z) * _SCALE
            sleep_us(self.period_us)
