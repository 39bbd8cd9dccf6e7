"""Register-level fakes of the I2C sensors, for driver tests on the host."""
import struct

from sensors.crc8 import crc8


class FakeSHT3x:
    def __init__(self, temp=21.5, rh=45.0):
        self.temp = temp
        self.rh = rh
        self.corrupt = False
        self.commands = []

    def write(self, data):
        self.commands.append(bytes(data))

    def read(self, n):
        t = int(round((self.temp + 45.0) * 65535 / 175.0))
        h = int(round(self.rh * 65535 / 100.0))
        tb = bytes(((t >> 8) & 0xFF, t & 0xFF))
        hb = bytes(((h >> 8) & 0xFF, h & 0xFF))
        out = bytearray(tb + bytes((crc8(tb),)) + hb + bytes((crc8(hb),)))
        if self.corrupt:
            out[2] ^= 0x01
        return bytes(out[:n])


class FakeADXL345:
    def __init__(self, x=0.0, y=0.0, z=1.0):
        self.regs = bytearray(64)
        self.regs[0] = 0xE5
        self.ptr = 0
        self.set(x, y, z)

    def set(self, x, y, z):
        self.regs[0x32:0x38] = struct.pack("<hhh", int(round(x / 0.0039)), int(round(y / 0.0039)),
                                           int(round(z / 0.0039)))

    def write(self, data):
        self.ptr = data[0]
        for k in range(1, len(data)):
            self.regs[self.ptr + k - 1] = data[k]

    def read(self, n):
        return bytes(self.regs[self.ptr:self.ptr + n])
