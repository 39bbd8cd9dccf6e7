"""CRC-8 used by Sensirion sensors (SHT3x, SHT4x) and AHT20: polynomial
0x31, initial value 0xFF, no reflection, no final XOR."""


def crc8(data, start=0, end=None):
    crc = 0xFF
    for k in range(start, len(data) if end is None else end):
        crc ^= data[k]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc
