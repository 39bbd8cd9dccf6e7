"""`ember demo`: the whole system on one machine, no setup.

Starts the embedded MQTT broker (loopback, free port), a core serving the bundled vibration
anomaly model, and a few simulated sensor nodes that run the firmware's own code under CPython
(firmware/src: node.Node, link.Link with its MQTT client, filters, sensors.simulated) with
bearing faults injected on a schedule. A listener subscribed to `ember/results/#` prints
anomalies as they are flagged; the summary compares what was flagged with what was injected.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EmberError
from .config import parse_config

BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "data" / "vibration_anomaly.tflite"


class DemoError(EmberError):
    """The demo cannot run (model or firmware sources missing, broker failed...)."""


def _firmware_src() -> Path:
    try:
        from ..firmware_path import source_dir
        return source_dir()
    except ImportError:   # older checkouts without runtime/firmware_path.py
        import os
        for base in (os.environ.get("EMBER_FIRMWARE_DIR"), Path(__file__).resolve().parents[2] / "firmware"):
            if base and (Path(base) / "src" / "node.py").is_file():
                return Path(base) / "src"
        raise DemoError("the MicroPython firmware sources (firmware/src) are not available") from None


def _import_firmware():
    src = str(_firmware_src())
    if src not in sys.path:
        sys.path.insert(0, src)
    try:
        from link import Link                       # noqa: E402  (firmware modules)
        from node import Node
        from sensors.simulated import SimulatedEnv, SimulatedVibration
    except ImportError as e:
        raise DemoError(f"cannot import the firmware node code from {src}: {e}") from None
    return Link, Node, SimulatedEnv, SimulatedVibration


@dataclass
class NodeRun:
    name: str
    fault_windows: list                 # [(start_s, end_s, fault)] of injected faults
    steps: int = 0
    sent: dict = field(default_factory=dict)       # seq -> (monotonic send time, fault or None)
    raw_samples: int = 0
    messages: int = 0
    dropped: int = 0
    config_applied: int = 0


def _anomalous(result: dict, labels: list) -> bool:
    label = result.get("label")
    if label is not None:
        return label != (labels[0] if labels else "normal")
    outs = result.get("outputs", [])
    return len(outs) == 1 and outs[0] >= 0.5


def run_demo(duration: float = 20.0, nodes: int = 3, rate_hz: float = 10.0, model: str | None = None,
             out=sys.stdout, quiet: bool = False, seed: int = 7) -> dict:
    """Run the demo for `duration` seconds; returns the summary dict (also printed unless quiet)."""
    import paho.mqtt.client as mqtt
    from .broker import EmbeddedBroker
    from .service import Core

    if duration <= 0 or nodes < 1 or not 0 < rate_hz <= 100:
        raise DemoError("need duration > 0, nodes >= 1 and 0 < rate <= 100")
    model_path = Path(model) if model else BUNDLED_MODEL
    if not model_path.is_file():
        raise DemoError(f"model not found: {model_path}")
    meta_path = model_path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    features = meta.get("features") or ["vib_mean", "vib_rms", "vib_peak", "vib_crest"]
    labels = meta.get("labels") or ["normal", "anomaly"]
    Link, Node, SimulatedEnv, SimulatedVibration = _import_firmware()

    def say(text: str) -> None:
        if not quiet:
            print(text, file=out, flush=True)

    broker = EmbeddedBroker("127.0.0.1", 0).start()
    tmp = tempfile.TemporaryDirectory(prefix="ember-demo-")
    names = [f"pump-{i + 1}" for i in range(nodes)]
    node_conf = {"v": 1, "period_ms": max(10, int(1000 / rate_hz)),
                 "channels": {"temp": {"filters": [{"type": "median", "n": 5},
                                                   {"type": "deadband", "delta": 0.1, "heartbeat_ms": 10000}]},
                              "rh": {"filters": [{"type": "deadband", "delta": 1.0, "heartbeat_ms": 10000}]},
                              "vib": {"window": 64}}}
    cfg = parse_config({
        "core": {"id": "demo", "data_dir": tmp.name, "status_interval_s": 1.0, "log_level": "warning"},
        "broker": {"host": broker.host, "port": broker.port},
        "models": [{"name": "vibration", "path": str(model_path), "nodes": ["pump-*"], "features": features}],
        "nodes": {n: {"config": node_conf} for n in names},
        "deploy": {"enabled": False},
    })
    core = None
    listener = None
    threads: list[threading.Thread] = []
    stop = threading.Event()
    runs = []
    lock = threading.Lock()
    results: dict = {}                   # (node, seq) -> (arrival monotonic, anomalous, score)
    state: dict = {}                     # node -> currently flagged
    try:
        core = Core(cfg)
        core.start()
        if not core.wait_connected(10):
            raise DemoError("the core did not connect to the embedded broker")

        def on_result(client, userdata, msg):
            now = time.monotonic()
            try:
                r = json.loads(msg.payload)
            except ValueError:
                return
            rows = r.get("results", [r])
            node = r.get("node")
            for row in rows:
                bad = _anomalous(row, labels)
                label = row.get("label", "anomaly" if bad else "normal")
                with lock:
                    results[(node, row.get("seq"))] = (now, bad, label)
                    changed = state.get(node, labels[0]) != label
                    state[node] = label
                if changed:   # print onsets and recoveries, not every message
                    what = f"ANOMALY {label}" if bad else f"back to {label}"
                    say(f"  [{now - t0:6.2f}s] {node}: {what:24s} score {row.get('score', 0):.2f}  "
                        f"(seq {row.get('seq')}, {r.get('latency_ms', 0):.1f} ms in core)")

        listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ember-demo-listener")
        listener.on_message = on_result
        subscribed = threading.Event()
        listener.on_subscribe = lambda *a: subscribed.set()
        listener.connect(broker.host, broker.port, 30)
        listener.subscribe(f"{cfg.prefix}/results/#", 1)
        listener.loop_start()
        subscribed.wait(10)

        # fault schedule: node i > 0 has one fault during its own slice of the run (node 1 stays
        # healthy); even nodes a bearing fault, odd ones a sensor fault (dropout) when the model
        # knows sensor faults, else a bearing fault too
        sensor_ok = any("sensor" in lb for lb in labels)
        for i, name in enumerate(names):
            windows = []
            if i > 0:
                span = duration / (nodes + 1)
                start = span * i
                kind = "dropout" if (i % 2 == 0 and sensor_ok) else "bearing"
                windows.append((start, start + span * 0.8, kind))
            runs.append(NodeRun(name, windows))

        t0 = time.monotonic()
        say(f"ember demo: embedded broker on {broker.host}:{broker.port}, core 'demo' serving "
            f"{model_path.name} ({core.models['vibration'].version}), {nodes} simulated nodes at {rate_hz:g} Hz "
            f"for {duration:g}s")
        for r in runs:
            say(f"  {r.name}: " + (", ".join(f"{k} fault at {a:.1f}-{b:.1f}s" for a, b, k in r.fault_windows)
                                   or "healthy"))

        def node_loop(idx: int, r: NodeRun) -> None:
            link = Link(r.name, broker.host, broker.port, prefix=cfg.prefix, buffer_size=256, max_inflight=16)
            vib = SimulatedVibration(seed=seed + idx)
            env = SimulatedEnv(seed=seed + 100 + idx)
            node = Node(r.name, link, scalars=[env], bursts=[vib])
            window = 64
            period = 1.0 / rate_hz
            next_t = time.monotonic()
            deadline = t0 + duration
            while not stop.is_set() and time.monotonic() < deadline:
                link.service(0)
                now = time.monotonic()
                if now < next_t:
                    link.service(int(min(next_t - now, 0.02) * 1000))
                    continue
                next_t += period
                if now - next_t > period:
                    next_t = now + period
                tt = now - t0
                faulty = next((k for a, b, k in r.fault_windows if a <= tt < b), None)
                for k in list(vib.faults):
                    if k != faulty:
                        vib.inject(k, False)
                if faulty and faulty not in vib.faults:
                    vib.inject(faulty)
                seq = node.seq
                msg = node.step()
                window = len(node.bufs.get("vib", ())) or window
                r.steps += 1
                r.raw_samples += window + 2          # one vibration window + temp + rh
                if msg is not None:
                    r.messages += 1
                    with lock:
                        r.sent[seq] = (time.monotonic(), faulty)
                link.service(0)
            end = time.monotonic() + 3.0
            while link.pending and time.monotonic() < end:
                link.service(20)
            r.dropped = link.dropped
            r.config_applied = node.accepted
            link.close()

        for i, r in enumerate(runs):
            th = threading.Thread(target=node_loop, args=(i, r), name=f"demo-{r.name}", daemon=True)
            th.start()
            threads.append(th)
        last_report = t0
        while any(th.is_alive() for th in threads):
            time.sleep(0.1)
            if time.monotonic() - last_report >= max(2.0, duration / 5):
                last_report = time.monotonic()
                with lock:
                    n_res = len(results)
                    n_bad = sum(1 for v in results.values() if v[1])
                say(f"  [{last_report - t0:6.2f}s] {sum(r.messages for r in runs)} messages sent, "
                    f"{n_res} results, {n_bad} anomalies flagged")
        # wait (bounded) for the last results
        expected = {(r.name, s) for r in runs for s in r.sent}
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            with lock:
                if expected <= results.keys():
                    break
            time.sleep(0.05)
        summary = _summarize(runs, results, core)
        _print_summary(summary, say)
        return summary
    finally:
        stop.set()
        for th in threads:
            th.join(5)
        if listener is not None:
            listener.disconnect()
            listener.loop_stop()
        if core is not None:
            core.stop()
        broker.stop()
        tmp.cleanup()


def _summarize(runs, results, core) -> dict:
    lat = []
    tp = fp = fn = tn = missing = typed = 0
    per_node = {}
    for r in runs:
        flagged = 0
        for seq, (t_sent, faulty) in r.sent.items():
            res = results.get((r.name, seq))
            if res is None:
                missing += 1
                continue
            lat.append(res[0] - t_sent)
            if res[1]:
                flagged += 1
            if faulty and res[1]:
                tp += 1
                want = "sensor" if faulty in ("dropout", "stuck") else "bearing"
                typed += want in str(res[2])
            elif faulty:
                fn += 1
            elif res[1]:
                fp += 1
            else:
                tn += 1
        per_node[r.name] = {"messages": r.messages, "raw_samples": r.raw_samples, "flagged": flagged,
                            "faulty_messages": sum(1 for _, f in r.sent.values() if f),
                            "faults": sorted({k for _, _, k in r.fault_windows}),
                            "dropped": r.dropped, "config_applied": r.config_applied}
    messages = sum(r.messages for r in runs)
    raw = sum(r.raw_samples for r in runs)
    lat_ms = np.asarray(lat) * 1e3 if lat else np.zeros(1)
    injected = sum(1 for r in runs for _, f in r.sent.values() if f)
    return {
        "nodes": len(runs), "messages_sent": messages, "raw_samples": raw,
        "reduction": round(raw / messages, 1) if messages else 0.0,
        "results": len([1 for r in runs for s in r.sent if (r.name, s) in results]), "missing_results": missing,
        "anomalies_injected": injected, "anomalies_flagged": tp + fp, "true_positives": tp,
        "false_positives": fp, "missed": fn, "true_negatives": tn, "right_fault_type": typed,
        "recall": round(tp / injected, 3) if injected else None,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "latency_ms_p50": round(float(np.percentile(lat_ms, 50)), 2),
        "latency_ms_p99": round(float(np.percentile(lat_ms, 99)), 2),
        "core_counters": dict(core.counters) if core else {}, "per_node": per_node,
    }


def _print_summary(s: dict, say) -> None:
    say("")
    say("summary")
    say(f"  messages sent      {s['messages_sent']} from {s['nodes']} nodes "
        f"(raw samples {s['raw_samples']}: {s['reduction']:g}x fewer messages than samples)")
    say(f"  results            {s['results']} ({s['missing_results']} missing)")
    say(f"  anomalies          flagged {s['anomalies_flagged']}, injected {s['anomalies_injected']} "
        f"(caught {s['true_positives']}, {s['right_fault_type']} with the right fault type; "
        f"missed {s['missed']}, false alarms {s['false_positives']})")
    say(f"  latency            p50 {s['latency_ms_p50']:.1f} ms, p99 {s['latency_ms_p99']:.1f} ms "
        "(node send -> result received)")
