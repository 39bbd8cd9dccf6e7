"""The benchmark load (tools/mqtt_load.py): frames, payloads that the core decodes, the generator and
sink against a real Mosquitto (counts, keys, the closed-loop window), and the latency join."""
import threading
import time

import numpy as np
import pytest

from runtime.core.payload import Block, Reading, decode
from tests.mqtt_broker import mqtt_broker  # noqa: F401  (fixture)
from tools import mqtt_load as ml


@pytest.mark.parametrize("n", [0, 1, 127, 128, 16383, 16384, 2_097_151, 2_097_152])
def test_varint_is_read_back_by_split_frames(n):
    frame = b"\x30" + ml.varint(n) + bytes(n)
    found, end = ml.split_frames(frame)
    assert end == len(frame) and found == [(0x30, len(frame) - n, len(frame))]
    assert ml.split_frames(frame[:-1]) == ([], 0) if n else True


def test_varint_spec_examples():
    # MQTT 3.1.1 section 2.2.3
    assert ml.varint(127) == b"\x7f" and ml.varint(128) == b"\x80\x01"
    assert ml.varint(16_383) == b"\xff\x7f" and ml.varint(2_097_152) == b"\x80\x80\x80\x01"
    assert ml.varint(268_435_455) == b"\xff\xff\xff\x7f"


def test_varint_rejects_out_of_range():
    with pytest.raises(ValueError):
        ml.varint(268_435_456)


def test_split_frames_across_arbitrary_cuts():
    rng = np.random.default_rng(5)
    payloads = [bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in (0, 5, 120, 200, 20000, 3)]
    frames = [ml.publish_frame(b"ember/nodes/a/data", p, pid=i + 1, qos=1) for i, p in enumerate(payloads)]
    stream = b"".join(frames) + b"\x40\x02\x00\x07"
    cuts = sorted(set(rng.integers(1, len(stream), 40).tolist()))
    buf, got = bytearray(), []
    for a, b in zip([0] + cuts, cuts + [len(stream)]):
        buf += stream[a:b]
        found, end = ml.split_frames(buf)
        got += [(first, bytes(buf[s:e])) for first, s, e in found]
        del buf[:end]
    assert not buf
    assert [f for f, _ in got] == [0x32] * len(payloads) + [0x40]
    for (_, body), pid, p in zip(got, range(1, 7), payloads):
        assert body == b"\x00\x12ember/nodes/a/data" + pid.to_bytes(2, "big") + p
    assert got[-1][1] == b"\x00\x07"


@pytest.mark.parametrize("kind", ["json-f", "json-ch", "binary", "binary3"])
def test_payloads_are_what_the_core_decodes(kind):
    pl = ml.Payloads(kind, 16, 0.05)
    for seq in (0, 7, 300, 2**32 - 3):
        r = decode(pl(seq, 123456))
        row = pl.row(seq)
        if kind.startswith("binary"):
            n = pl.per_msg
            assert isinstance(r, Block) and r.quantized and n == (3 if kind == "binary3" else 1)
            assert r.seqs == list(range(seq, seq + n)) and r.ts == [123456] * n
            assert np.array_equal(r.values, pl.q[[pl.row(seq + j) for j in range(n)]])
        else:
            assert isinstance(r, Reading) and (r.seq, r.t) == (seq, 123456)
            if kind == "json-f":
                vals = [r.f[name] for name in pl.features()]
            else:
                vals = r.ch["x"]
            np.testing.assert_allclose(vals, pl.values[row], atol=1e-9)
    for bad in ("xml", "binaryN", "binary0", "binary5000"):
        with pytest.raises(ValueError):
            ml.Payloads(bad, 4)


@pytest.mark.parametrize("c_parser", [True, False], ids=["c-parser", "python-parser"])
def test_generator_and_sink_through_mosquitto(mqtt_broker, c_parser):
    nodes = ["a0", "a1", "a2"]
    index = {n: i for i, n in enumerate(nodes)}
    ready = threading.Event()
    out = {}
    t = threading.Thread(target=lambda: out.update(ml.collect(
        mqtt_broker.host, mqtt_broker.port, "ember/nodes/+/data", index, node_level=2, ready=ready,
        expect=900, timeout=30, use_c_parser=c_parser)), daemon=True)
    t.start()
    assert ready.wait(10)
    g = ml.generate(mqtt_broker.host, mqtt_broker.port, nodes, 0, ("json-f", 16, 0.05), duration=25,
                    t_start=time.monotonic(), count=300, inflight=50, chunk=64)
    t.join(30)
    assert g["sent"] == g["acked"] == 900
    keys = out["keys"]
    assert len(keys) == 900 and out["frames"] == 900
    expect = {i << 32 | s for i in range(3) for s in range(300)}
    assert set(keys.tolist()) == expect
    lat = ml.latencies(keys, out["times"], ml.send_times(g["records"], 3))
    assert np.all(np.isfinite(lat)) and np.all(lat >= 0)


def test_closed_loop_keeps_the_window(mqtt_broker):
    """Never more than `window` messages sent whose reading has not yet reached the sink."""
    nodes = ["b0", "b1"]
    results = [0]
    ready = threading.Event()
    out = {}
    t = threading.Thread(target=lambda: out.update(ml.collect(
        mqtt_broker.host, mqtt_broker.port, "ember/nodes/+/data", {"b0": 0, "b1": 1}, node_level=2,
        ready=ready, results=results, nodes_per_gen=2, expect=800, timeout=30)), daemon=True)
    t.start()
    assert ready.wait(10)
    window = 32
    g = ml.generate(mqtt_broker.host, mqtt_broker.port, nodes, 0, ("binary", 8), duration=25,
                    t_start=time.monotonic(), window=window, results=results, gen_index=0, count=400)
    t.join(30)
    assert g["sent"] == 800 and len(out["keys"]) == 800
    rec = np.sort(g["records"], order="t")
    sent_after = np.cumsum(rec["n"])
    recv_times = np.sort(out["times"])
    received_before = np.searchsorted(recv_times, rec["t"], side="right")
    assert np.all(sent_after - received_before <= window)


def test_latency_join_matches_send_records():
    rec = np.array([(0, 0, 3, 10.0), (1, 0, 2, 11.0), (0, 3, 1, 12.0)],
                   dtype=[("node", "i8"), ("seq", "i8"), ("n", "i8"), ("t", "f8")])
    per = ml.send_times(rec, 2)
    keys = np.array([0 << 32 | 2, 1 << 32 | 1, 0 << 32 | 3, 1 << 32 | 9], np.int64)
    lat = ml.latencies(keys, np.array([10.5, 11.25, 12.125, 20.0]), per)
    assert lat[:3].tolist() == [0.5, 0.25, 0.125] and np.isnan(lat[3])


def test_batched_binary_payloads_count_readings(mqtt_broker):
    """binary16: 16 readings per message, seqs consecutive; counts and keys are readings."""
    ready = threading.Event()
    out = {}
    t = threading.Thread(target=lambda: out.update(ml.collect(
        mqtt_broker.host, mqtt_broker.port, "ember/nodes/+/data", {"c0": 0}, node_level=2, ready=ready,
        expect=320, timeout=30)), daemon=True)
    t.start()
    assert ready.wait(10)
    g = ml.generate(mqtt_broker.host, mqtt_broker.port, ["c0"], 0, ("binary16", 4), duration=25,
                    t_start=time.monotonic(), count=320, chunk=4)
    t.join(30)
    assert g["sent"] == g["acked"] == 320 and out["frames"] == 20
    assert sorted(out["keys"].tolist()) == list(range(320))
    b = decode(ml.Payloads("binary16", 4)(32, 9))
    assert b.seqs == list(range(32, 48)) and b.ts == [9] * 16


def test_profile_threads_profiles_every_thread(tmp_path):
    """tools/profile_threads.py: one .prof per thread (main included), and a report naming them."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    script = tmp_path / "prog.py"
    script.write_text("import threading\n"
                      "def spin():\n    sum(i * i for i in range(200000))\n"
                      "t = threading.Thread(target=spin, name='worker-x'); t.start(); t.join()\n")
    out = tmp_path / "prof"
    r = subprocess.run([sys.executable, str(repo / "tools" / "profile_threads.py"), str(out), str(script)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name.rsplit("-", 1)[0] for p in out.glob("*.prof"))
    assert names == ["MainThread", "worker-x"]
    rep = subprocess.run([sys.executable, str(repo / "tools" / "profile_threads.py"), "--report", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert rep.returncode == 0 and "worker-x" in rep.stdout and "spin" in rep.stdout
