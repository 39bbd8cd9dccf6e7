"""Host stand-in for MicroPython's ``network`` (WLAN station, LAN) so the
board modules' bring-up logic can be tested. ``connect_after`` is how many
``isconnected()`` polls it takes to associate (None = never)."""
STA_IF = 0
AP_IF = 1
connect_after = 3
log = []


class _NIC:
    def __init__(self, *args):
        self._active = False
        self._polls = 0
        log.append((type(self).__name__, args))

    def active(self, flag=None):
        if flag is None:
            return self._active
        self._active = bool(flag)

    def connect(self, ssid="", key="", **kw):
        log.append(("connect", ssid, key))

    def isconnected(self):
        self._polls += 1
        return connect_after is not None and self._active and self._polls > connect_after

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


class WLAN(_NIC):
    pass


class LAN(_NIC):
    pass
