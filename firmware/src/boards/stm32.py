"""STM32 boards (Pyboard, Pyboard-D, Nucleo/ Discovery with Ethernet):
Ethernet through ``network.LAN`` when ``"lan": true`` in node.json, else the
Pyboard-D Wi-Fi. STM32 ``machine.RTC`` has no user memory, so deep-sleep
state is kept in a small file (``/flash/sleep.bin``); use sleep periods of a
minute or more to spare the flash."""
import machine
import network

from compat import sleep_ms

_STATE = "/flash/sleep.bin"


# micropython-stm32-stubs describe LAN/WLAN without isconnected()/connect() and
# WLAN() without an interface argument; the stm32 port (network_lan.c, and
# cyw43 on the Pyboard-D) has them, hence the targeted ignores below.


def net_up(cfg, wdt=None, timeout_ms=20000):
    if cfg.get("lan"):
        nic = network.LAN()
        nic.active(True)
    else:
        wifi = cfg.get("wifi") or {}
        nic = network.WLAN(network.STA_IF)  # pyright: ignore[reportCallIssue]
        nic.active(True)
        nic.connect(wifi.get("ssid", ""), wifi.get("password", ""))  # pyright: ignore[reportAttributeAccessIssue]
    waited = 0
    while not nic.isconnected() and waited < timeout_ms:  # pyright: ignore[reportAttributeAccessIssue]
        sleep_ms(100)
        waited += 100
        if wdt is not None:
            wdt.feed()
    return nic.isconnected()  # pyright: ignore[reportAttributeAccessIssue]


def i2c(spec):
    return machine.I2C(spec.get("bus", 1), freq=spec.get("freq", 400000))


def adc(pin):
    return machine.ADC(machine.Pin(pin))


def watchdog(timeout_ms):
    return machine.WDT(timeout=timeout_ms)


class Sleeper:
    def save(self, blob):
        with open(_STATE, "wb") as f:
            f.write(blob)

    def load(self):
        try:
            with open(_STATE, "rb") as f:
                return f.read()
        except OSError:
            return None

    def woke(self):
        return machine.reset_cause() == machine.DEEPSLEEP_RESET

    def deepsleep(self, ms):
        machine.deepsleep(ms)
