"""Board support: one module per board family with the same functions:

  net_up(cfg, wdt) -> bool          bring the network up (bounded wait)
  i2c(spec) / adc(pin)              peripherals for sensors/factory.py
  watchdog(timeout_ms)              a started machine.WDT (or None)
  Sleeper()                         save(bytes) / load() / deepsleep(ms) / woke()
"""


def load(name):
    if name == "esp32":
        from boards import esp32 as b
    elif name == "stm32":
        from boards import stm32 as b
    elif name == "host":
        from boards import host as b
    else:
        raise ValueError("unknown board %r (esp32, stm32, host)" % name)
    return b
