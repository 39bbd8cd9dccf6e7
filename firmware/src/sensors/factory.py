"""Build sensor objects from the ``sensors`` list of ``node.json``::

    [{"driver": "sht3x", "i2c": {"bus": 0, "scl": 22, "sda": 21}},
     {"driver": "adxl345", "i2c": {"bus": 0, "scl": 22, "sda": 21}, "window": true, "axis": "mag"},
     {"driver": "adc", "pin": 34, "name": "current", "scale": 30.0},
     {"driver": "sim_env", "seed": 1}, {"driver": "sim_vib", "seed": 2, "window": true}]

Returns (scalars, bursts): sensors read once per period, and sensors whose
first channel is sampled as a window (``"window": true``).
"""


def build(specs, board):
    scalars = []
    bursts = []
    buses = {}
    for i, spec in enumerate(specs):
        drv = spec.get("driver")
        if drv in ("sht3x", "adxl345"):
            key = str(spec.get("i2c", {}))
            if key not in buses:
                buses[key] = board.i2c(spec.get("i2c", {}))
            bus = buses[key]
        if drv == "sht3x":
            from sensors.sht3x import SHT3x
            s = SHT3x(bus, spec.get("addr", 0x44), tuple(spec.get("names", ("temp", "rh"))))
        elif drv == "adxl345":
            from sensors.adxl345 import ADXL345
            s = ADXL345(bus, spec.get("addr", 0x53), spec.get("rate_hz", 800), spec.get("axis", "mag"),
                        tuple(spec.get("names", ("vib",) if spec.get("window") else ("ax", "ay", "az"))))
        elif drv == "adc":
            from sensors.adc import AnalogSensor
            s = AnalogSensor(board.adc(spec["pin"]), spec.get("name", "adc"), spec.get("scale", 3.3),
                             spec.get("offset", 0.0), spec.get("oversample", 4))
        elif drv == "sim_env":
            from sensors.simulated import SimulatedEnv
            env = SimulatedEnv(spec.get("seed", 1), spec.get("base", 21.0), spec.get("swing", 2.0),
                               spec.get("period_s", 600.0), spec.get("noise", 0.02), spec.get("dt_s", 1.0),
                               tuple(spec.get("names", ("temp", "rh"))))
            for fault in spec.get("faults", ()):
                env.inject(fault)
            s = env
        elif drv == "sim_vib":
            from sensors.simulated import SimulatedVibration
            vib = SimulatedVibration(spec.get("seed", 2), spec.get("rate_hz", 1000), spec.get("freq_hz", 50.0),
                                     spec.get("amp", 0.5), spec.get("noise", 0.05), tuple(spec.get("names", ("vib",))))
            for fault in spec.get("faults", ()):
                vib.inject(fault)
            s = vib
        else:
            raise ValueError("sensors[%d]: unknown driver %r" % (i, drv))
        (bursts if spec.get("window") else scalars).append(s)
    return scalars, bursts
