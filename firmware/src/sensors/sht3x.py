"""Sensirion SHT3x temperature/humidity sensor over I2C (single shot, high
repeatability, no clock stretching). Both words are CRC-checked; a bad CRC or
I2C error gives NaN and counts in ``errors``."""
from compat import const, sleep_ms
from sensors.crc8 import crc8

ADDR = const(0x44)
_MEASURE_HIGH = b"\x24\x00"
_SOFT_RESET = b"\x30\xa2"
NAN = float("nan")


class SHT3x:
    def __init__(self, i2c, addr=ADDR, names=("temp", "rh")):
        self.i2c = i2c
        self.addr = addr
        self.names = names
        self.buf = bytearray(6)
        self.errors = 0
        self.i2c.writeto(addr, _SOFT_RESET)
        sleep_ms(2)

    def read(self):
        b = self.buf
        try:
            self.i2c.writeto(self.addr, _MEASURE_HIGH)
            sleep_ms(16)  # max measurement duration, high repeatability
            self.i2c.readfrom_into(self.addr, b)
        except OSError:
            self.errors += 1
            return NAN, NAN
        if crc8(b, 0, 2) != b[2] or crc8(b, 3, 5) != b[5]:
            self.errors += 1
            return NAN, NAN
        t = -45.0 + 175.0 * ((b[0] << 8) | b[1]) / 65535.0
        rh = 100.0 * ((b[3] << 8) | b[4]) / 65535.0
        return t, rh
