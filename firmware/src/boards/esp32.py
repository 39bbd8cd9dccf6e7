"""ESP32 family (ESP32, -S2, -S3, -C3, -C6): Wi-Fi station, hardware I2C,
12-bit ADC with 11 dB attenuation, WDT, deep sleep with state in RTC memory
(survives deep sleep, lost on power loss)."""
import machine
import network

from compat import sleep_ms


def net_up(cfg, wdt=None, timeout_ms=20000):
    wifi = cfg.get("wifi") or {}
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    wlan.connect(wifi.get("ssid", ""), wifi.get("password", ""))
    waited = 0
    while not wlan.isconnected() and waited < timeout_ms:
        sleep_ms(100)
        waited += 100
        if wdt is not None:
            wdt.feed()
    return wlan.isconnected()


def i2c(spec):
    return machine.I2C(spec.get("bus", 0), scl=machine.Pin(spec.get("scl", 22)),
                       sda=machine.Pin(spec.get("sda", 21)), freq=spec.get("freq", 400000))


def adc(pin):
    a = machine.ADC(machine.Pin(pin))
    a.atten(machine.ADC.ATTN_11DB)  # full 0..3.3 V range
    return a


def watchdog(timeout_ms):
    return machine.WDT(timeout=timeout_ms)


class Sleeper:
    def __init__(self):
        self.rtc = machine.RTC()

    def save(self, blob):
        self.rtc.memory(blob)  # up to 2 KiB of RTC slow memory

    def load(self):
        blob = self.rtc.memory()
        return bytes(blob) if blob else None

    def woke(self):
        return machine.reset_cause() == machine.DEEPSLEEP_RESET

    def deepsleep(self, ms):
        machine.deepsleep(ms)
