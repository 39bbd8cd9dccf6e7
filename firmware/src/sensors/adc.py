"""Analog input through ``machine.ADC``: ``read_u16`` averaged over a few
conversions, then a linear calibration ``value = raw/65535 * scale + offset``."""


class AnalogSensor:
    def __init__(self, adc, name="adc", scale=3.3, offset=0.0, oversample=4):
        if oversample < 1:
            raise ValueError("oversample must be >= 1")
        self.adc = adc
        self.names = (name,)
        self.scale = scale
        self.offset = offset
        self.oversample = oversample

    def read(self):
        total = 0
        for _ in range(self.oversample):
            total += self.adc.read_u16()
        return (total / (self.oversample * 65535.0) * self.scale + self.offset,)
