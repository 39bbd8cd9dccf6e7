"""Sensor drivers against register-level fakes, simulated faults, remote
config validation, watchdog and deep-sleep state (CPython, host fakes)."""
import json
import math

import pytest


def test_sht3x_converts_and_checks_crc(fw):
    import machine
    from i2c_devices import FakeSHT3x
    from sensors.sht3x import SHT3x

    bus = machine.I2C(10)
    dev = FakeSHT3x(temp=23.45, rh=61.2)
    bus.attach(0x44, dev)
    s = SHT3x(bus)
    t, rh = s.read()
    assert t == pytest.approx(23.45, abs=0.003) and rh == pytest.approx(61.2, abs=0.002)
    assert dev.commands[0] == b"\x30\xa2" and dev.commands[-1] == b"\x24\x00"
    dev.corrupt = True
    t, rh = s.read()
    assert math.isnan(t) and math.isnan(rh) and s.errors == 1
    del bus.devices[0x44]  # sensor unplugged: NACK -> NaN, counted, no exception
    assert all(math.isnan(v) for v in s.read()) and s.errors == 2


def test_crc8_matches_sensirion_datasheet_example(fw):
    from sensors.crc8 import crc8

    assert crc8(b"\xbe\xef") == 0x92  # SHT3x datasheet, section 4.12


def test_adxl345_init_scaling_and_burst(fw):
    import machine
    from array import array

    from i2c_devices import FakeADXL345
    from sensors.adxl345 import ADXL345

    bus = machine.I2C(11)
    dev = FakeADXL345(0.5, -0.25, 1.0)
    bus.attach(0x53, dev)
    a = ADXL345(bus, rate_hz=3200, axis="mag")
    assert dev.regs[0x2D] == 0x08 and dev.regs[0x31] == 0x08 and dev.regs[0x2C] == 0x0F
    x, y, z = a.read()
    assert (x, y, z) == pytest.approx((0.5, -0.25, 1.0), abs=0.004)
    buf = array("f", [0.0] * 8)
    a.burst(buf)
    assert list(buf) == pytest.approx([math.sqrt(0.5 ** 2 + 0.25 ** 2 + 1.0)] * 8, abs=0.005)
    dev.regs[0] = 0x00
    with pytest.raises(OSError, match="ADXL345 not found"):
        ADXL345(bus)
    with pytest.raises(ValueError, match="rate"):
        ADXL345(bus, rate_hz=123)


def test_adc_calibration(fw):
    import machine
    from sensors.adc import AnalogSensor

    machine.ADC.levels[34] = 32768
    s = AnalogSensor(machine.ADC(machine.Pin(34)), "current", scale=30.0, offset=-1.0)
    assert s.names == ("current",)
    assert s.read()[0] == pytest.approx(32768 / 65535 * 30.0 - 1.0)


def test_simulated_faults(fw):
    from filters import features
    from sensors.simulated import SimulatedEnv, SimulatedVibration

    e = SimulatedEnv(seed=3)
    normal = [e.read()[0] for _ in range(100)]
    assert max(normal) - min(normal) < 3
    e.inject("stuck")
    stuck = [e.read() for _ in range(5)]
    assert len(set(stuck)) == 1
    e.inject("stuck", False)
    e.inject("spike")
    spikes = [e.read()[0] for _ in range(100)]
    assert sum(v > 35 for v in spikes) == 2
    e.inject("dropout")
    assert all(math.isnan(v) for v in e.read())
    with pytest.raises(ValueError):
        e.inject("fire")
    v = SimulatedVibration(seed=1)
    buf = [0.0] * 256
    v.burst(buf)
    ok = features(buf)
    v.inject("bearing")
    v.burst(buf)
    bad = features(buf)
    assert ok[3] < 2.0 < bad[3]  # crest factor reveals impacts
    assert bad[2] > 2 * ok[2]


def test_sensor_factory_builds_real_drivers_from_node_json(fw):
    import machine
    from boards import host
    from i2c_devices import FakeADXL345, FakeSHT3x
    from sensors import factory

    bus = machine.I2C(0)
    bus.attach(0x44, FakeSHT3x())
    bus.attach(0x53, FakeADXL345())
    scalars, bursts = factory.build([
        {"driver": "sht3x", "i2c": {"bus": 0}},
        {"driver": "adxl345", "i2c": {"bus": 0}, "window": True},
        {"driver": "adc", "pin": 3, "name": "light"},
        {"driver": "sim_env", "faults": ["spike"], "names": ["t2", "rh2"]},
    ], host)
    assert [s.names for s in scalars] == [("temp", "rh"), ("light",), ("t2", "rh2")]
    assert [s.names for s in bursts] == [("vib",)]
    with pytest.raises(ValueError, match="unknown driver"):
        factory.build([{"driver": "bme680"}], host)


def test_remote_config_validation_reasons(fw):
    from config import parse_app

    scal, win = ["temp", "rh"], ["vib"]
    bad = [
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"period_ms": 5}', "period_ms must be an integer"),
        (b'{"period_ms": "fast"}', "period_ms must be an integer"),
        (b'{"sleep_ms": 1000}', "cannot deep sleep"),
        (b'{"colour": 1}', "unknown key colour"),
        (b'{"channels": {"pressure": {}}}', "unknown channel pressure"),
        (b'{"channels": {"temp": {"filters": [{"type": "median", "n": 99}]}}}', "channel temp: stage 0"),
        (b'{"channels": {"temp": {"gain": 2}}}', "channel temp: unknown key gain"),
        (b'{"channels": {"vib": {"window": 1}}}', "window must be an integer"),
        (b'{"channels": {"vib": {"raw": 1}}}', "raw must be true or false"),
        (b'{"v": "x"}', "v must be an integer"),
    ]
    for payload, reason in bad:
        with pytest.raises(ValueError, match=reason):
            parse_app(payload, scal, win)
    app = parse_app(b'{"v": 4, "period_ms": 250, "sleep_ms": 60000, "channels": {"vib": {"window": 128}}}',
                    scal, win, can_sleep=True)
    assert (app.version, app.period_ms, app.sleep_ms, app.windows["vib"]) == (4, 250, 60000, 128)
    assert set(app.chains) == {"temp", "rh"}


class FakeLink:
    topic_config = "ember/nodes/n/config"
    topic_ack = "ember/nodes/n/config/ack"

    def __init__(self):
        self.data = []
        self.control = []
        self.dropped = 0
        self.pending = 0
        self.subs = {}

    def subscribe(self, topic, cb):
        self.subs[topic] = cb

    def send_data(self, p):
        self.data.append(json.loads(p))

    def send_control(self, topic, p, retain=False):
        self.control.append((topic, json.loads(p)))

    def service(self, wait_ms=0):
        return True

    def close(self):
        pass


def test_node_config_rejected_keeps_old_applied_acked(fw):
    from node import Node
    from sensors.simulated import SimulatedEnv

    link = FakeLink()
    node = Node("n", link, [SimulatedEnv()], app={"period_ms": 100})
    cb = link.subs[link.topic_config]
    node.step(0)
    assert set(link.data[-1]["ch"]) == {"temp", "rh"}
    cb(link.topic_config, b'{"v": 7, "channels": {"temp": {"filters": [{"type": "nope"}]}}}', True)
    assert link.control[-1][1]["accepted"] is False and link.control[-1][1]["v"] == 7
    assert node.app.period_ms == 100 and node.rejected == 1
    good = b'{"v": 8, "period_ms": 500, "channels": {"temp": {"filters": [{"type": "deadband", "delta": 99}]}}}'
    cb(link.topic_config, good, True)
    assert link.control[-1] == (link.topic_ack, {"accepted": True, "v": 8})
    assert node.app.period_ms == 500
    cb(link.topic_config, good, True)  # redelivered retained copy after a reconnect: no second ack
    assert len(link.control) == 2
    for t in range(1, 5):
        node.step(t)
    assert sum("temp" in d["ch"] for d in link.data[1:]) == 1


def test_watchdog_fed_and_deep_sleep_state_survives(fw):
    import machine
    from boards import host
    from node import Node
    from sensors.simulated import SimulatedEnv

    link = FakeLink()
    wdt = host.watchdog(5000)
    node = Node("n", link, [SimulatedEnv()], app={"period_ms": 10, "sleep_ms": 0}, wdt=wdt,
                sleeper=host.Sleeper())
    node.run(max_steps=3)
    assert wdt.feeds >= 2 and len(link.data) == 3  # fed between samples
    wdt.feeds = 0
    cfg = b'{"period_ms": 10, "sleep_ms": 30000, "channels": {"temp": {"filters": [{"type": "deadband", "delta": 5}]}}}'
    link.subs[link.topic_config](link.topic_config, cfg, True)
    assert link.control[-1][1]["accepted"] is True
    with pytest.raises(SystemExit):
        node.run()  # first sample, then deep sleep (the fake raises like a reset would)
    assert machine.deepsleep_calls[-1] == 30000 and wdt.feeds >= 1
    assert machine.reset_cause() == machine.DEEPSLEEP_RESET
    blob = host.Sleeper().load()
    assert blob and len(blob) < 2048
    # "after the reset": a new node restores seq, config and the deadband's last value
    link2 = FakeLink()
    node2 = Node("n", link2, [SimulatedEnv()], app={"period_ms": 10}, sleeper=host.Sleeper())
    assert node2.restore(blob)
    assert node2.seq == 4 and node2.app.sleep_ms == 30000
    node2.step(0)
    assert "temp" not in link2.data[-1]["ch"]  # last sent value was restored: within deadband
    assert node2.restore(b"garbage") is False


def test_node_rejects_duplicate_channel_names(fw):
    from node import Node
    from sensors.simulated import SimulatedEnv

    with pytest.raises(ValueError, match="channel temp comes from two sensors"):
        Node("n", FakeLink(), [SimulatedEnv(), SimulatedEnv()])


@pytest.mark.parametrize("board,cfg,nic", [
    ("esp32", {"wifi": {"ssid": "plant", "password": "pw"}}, "WLAN"),
    ("stm32", {"wifi": {"ssid": "plant", "password": "pw"}}, "WLAN"),
    ("stm32", {"lan": True}, "LAN"),
])
def test_board_network_bring_up_is_bounded(fw, board, cfg, nic):
    import importlib

    import machine
    import network

    b = importlib.import_module("boards." + board)
    wdt = machine.WDT(timeout=1000)
    network.connect_after = 3
    network.log.clear()
    assert b.net_up(cfg, wdt, timeout_ms=2000) is True
    assert network.log[0][0] == nic and wdt.feeds >= 2  # fed while waiting
    if nic == "WLAN":
        assert ("connect", "plant", "pw") in network.log
    network.connect_after = None  # access point never answers: gives up after the timeout
    assert b.net_up(cfg, wdt, timeout_ms=300) is False


def test_app_build_restores_state_after_deep_sleep(fw, tmp_path):
    import machine
    from app import build
    from boards import host

    cfg = {"node_id": "n", "board": "host", "deep_sleep": True, "broker": {"host": "127.0.0.1", "port": 1},
           "sensors": [{"driver": "sim_env"}], "app": {"period_ms": 100}}
    host.Sleeper().save(b'{"seq": 41, "cfg": "{\\"period_ms\\": 2000, \\"sleep_ms\\": 60000}", "db": {}}')
    machine._reset_cause = machine.DEEPSLEEP_RESET
    try:
        node = build(cfg)
    finally:
        machine._reset_cause = machine.PWRON_RESET
    assert node.seq == 41 and node.app.period_ms == 2000 and node.app.sleep_ms == 60000
    assert node.wdt is not None and node.wdt.timeout == 30000
    node = build(cfg)  # a power-on reset ignores whatever is in RTC memory
    assert node.seq == 0 and node.app.period_ms == 100
