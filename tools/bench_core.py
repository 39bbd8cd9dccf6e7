#!/usr/bin/env python3
"""Benchmark of the core service end to end (not a test): node messages/s, latency, CPU, core RSS.

    python tools/bench_core.py                       # the default cases, printed as JSON lines
    python tools/bench_core.py --write docs/benchmarks-core.md
    python tools/bench_core.py --target broker       # the load alone: generator -> Mosquitto -> sink
    python tools/bench_core.py --cases dense:json-f:sat --profile /tmp/prof   # + per-thread cProfile

Every case starts its own Mosquitto (persistence on, max_queued_messages 1,000,000 as `ember core`
starts it, runtime/core/local_broker.py), `ember core` in its own process (`python -m runtime.core`),
`--gens` node publisher processes (tools/mqtt_load.py: raw sockets, pre-formatted QoS 1 PUBLISH
frames written in chunks, one connection per node) and one result sink process (raw socket,
QoS 1 subscription, bulk frame parsing). A case is MODEL:PAYLOAD:LOAD with
  MODEL   dense (FC 16->32 ReLU -> FC 32->8, batch 1), dense-b64 (the same with batch 64), kws
          (MLPerf Tiny keyword spotting, 490 inputs);
  PAYLOAD json-f (DESIGN.md JSON, one scalar per feature in "f"), json-ch (one window in "ch"),
          binary (payload.py version 1, one int8 reading per message), binaryN (N readings per
          message: rates, windows and msgs/s then count readings);
  LOAD    sat (closed loop: at most --window messages sent whose result has not arrived) or a
          rate in msgs/s (open loop).
One MQTT message carries one reading except with binaryN. Measured over [warm-up, duration] after the
load starts: msgs/s = node messages whose result arrived in the window / window length;
latency = node send -> result received (CLOCK_MONOTONIC, both on this machine) of those results;
CPU us/msg = the process's utime+stime (/proc) over the window / results in the window, for the
core (also per thread, busiest first), the broker and the load processes; core RSS = VmRSS before
the load, the median VmRSS sampled every 0.25 s in the window and VmHWM (peak of the whole run;
with --workers N: of the largest worker, CPU summed over all). After the load stops the run drains, then
`lost` = messages acknowledged by the broker without a result, `dup` = results received twice.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime.core.local_broker import MosquittoProcess, free_port  # noqa: E402
from tools import mqtt_load  # noqa: E402

KWS = next((p / "shared" / "models" / "kws_ref_model.tflite" for p in REPO.parents
            if (p / "shared" / "models" / "kws_ref_model.tflite").is_file()), None)
CLK = os.sysconf("SC_CLK_TCK")
DEFAULT_CASES = ("dense:json-f:sat,dense:binary:sat,dense:json-f:5000,dense:binary64:sat,kws:json-ch:sat,"
                 "kws:binary:sat,kws:json-ch:500")


def dense_model(batch: int = 1, dims=(16, 32, 8), seed: int = 0) -> bytes:
    """A small dense classifier: FC(16->32, ReLU) -> FC(32->8), int8."""
    from runtime.tflite.writer import ModelBuilder
    rng = np.random.default_rng(seed)
    mb = ModelBuilder("bench dense")
    prev = mb.add_tensor("x", (batch, dims[0]), "int8", scale=0.05, zero_point=0)
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        w = rng.integers(-127, 128, (b, a)).astype(np.int8)
        ws = np.full(b, 0.01, np.float32)
        wt = mb.add_tensor(f"w{i}", (b, a), "int8", data=w, scale=ws, zero_point=np.zeros(b, np.int64),
                           quantized_dimension=0)
        bt = mb.add_tensor(f"b{i}", (b,), "int32", data=np.zeros(b, np.int32), scale=0.05 * ws,
                           zero_point=np.zeros(b, np.int64), quantized_dimension=0)
        y = mb.add_tensor(f"y{i}", (batch, b), "int8", scale=0.1, zero_point=0)
        mb.add_operator("FULLY_CONNECTED", [prev, wt, bt], [y],
                        {"fused_activation_function": "RELU" if i == 0 else "NONE"})
        prev = y
    mb.set_io([0], [prev])
    return mb.build()


def model_for(name: str) -> tuple[bytes, int, float]:
    """(tflite bytes, input size, input scale) of a benchmark model."""
    if name == "dense":
        return dense_model(1), 16, 0.05
    if name == "dense-b64":
        return dense_model(64), 16, 0.05
    if name == "kws":
        if KWS is None:
            raise SystemExit("kws: ../shared/models/kws_ref_model.tflite not found")
        return KWS.read_bytes(), 490, 1.0
    raise SystemExit(f"unknown model {name!r} (dense, dense-b64, kws)")


# ---------------------------------------------------------------- /proc
def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / CLK
    except (OSError, IndexError):
        return float("nan")


def thread_cpu(pid: int) -> dict:
    """Per thread (task id) utime + stime, seconds."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(parts[11]) + int(parts[12])) / CLK
        except (OSError, IndexError):
            pass
    return out


def proc_mem_kb(pid: int) -> dict:
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS", "VmHWM")):
                    k, v = line.split(":")
                    vals[k] = int(v.split()[0])
    except OSError:
        pass
    return vals


# ---------------------------------------------------------------- processes
def start_core(tmp: Path, host: str, port: int, model_path: Path, features: list, kind: str,
               result_qos: int, profile: Path | None, repo: Path = REPO, core_conf: str = "",
               core_id: str = "bench", shared_group: str = "") -> subprocess.Popen:
    key = "channels" if kind == "json-ch" else "features"
    conf = tmp / f"{core_id}.toml"
    group = f'shared_group = "{shared_group}"' if shared_group else ""
    conf.write_text(f"""
[core]
id = "{core_id}"
data_dir = "{tmp / core_id}"
status_interval_s = 1
log_level = "warning"
result_qos = {result_qos}
{core_conf}
[broker]
host = "{host}"
port = {port}
{group}
[[models]]
name = "m"
path = "{model_path}"
nodes = ["*"]
{key} = {json.dumps(features)}
max_batch = 256
[deploy]
enabled = false
""")
    env = dict(os.environ, PYTHONPATH=str(repo))
    cmd = [sys.executable, "-m", "runtime.core", "-c", str(conf)]
    if profile is not None:
        cmd = [sys.executable, str(REPO / "tools" / "profile_threads.py"), str(profile), *cmd[1:]]
    with open(tmp / "core.log", "ab") as log:
        return subprocess.Popen(cmd, cwd=str(repo), env=env, stdout=subprocess.DEVNULL, stderr=log)


def wait_core_ready(host: str, port: int, proc: subprocess.Popen, timeout: float = 60, core_id: str = "bench") -> bool:
    """True once the core's retained status says online (read with a raw subscription)."""
    deadline = time.monotonic() + timeout
    s = mqtt_load.open_connection(host, port, "bench-ready")
    try:
        s.sendall(mqtt_load.subscribe_frame(1, f"ember/cores/{core_id}/status", 0))
        s.settimeout(0.5)
        buf = bytearray()
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                data = s.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                return False
            buf += data
            frames, end = mqtt_load.split_frames(buf)
            for first, a, b in frames:
                if first & 0xF0 == mqtt_load.PUBLISH and b'"online":true' in bytes(buf[a:b]):
                    return True
            del buf[:end]
        return False
    finally:
        s.close()


def _gen_entry(kw: dict) -> None:
    mqtt_load.generate(**kw)


def _sink_entry(kw: dict) -> None:
    mqtt_load.collect(**kw)


def _terminate(proc, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# ---------------------------------------------------------------- one case
def run_case(model: str, kind: str, load: str, *, duration: float = 15.0, warm: float = 3.0, gens: int = 1,
             nodes_per_gen: int = 4, window: int = 1000, target: str = "core", result_qos: int = 1,
             profile: Path | None = None, drain: float = 15.0, core_repo: Path = REPO,
             broker_conf: str = "", core_conf: str = "", workers: int = 1) -> dict:
    """One benchmark case (see the module doc); target 'broker' leaves the core out (the sink reads
    the node data topic itself) to measure what the load alone can push through Mosquitto."""
    blob, size, scale = model_for(model)
    rate = 0.0 if load == "sat" else float(load)
    payload = (kind, size, scale)
    nodes = [f"g{g}n{j}" for g in range(gens) for j in range(nodes_per_gen)]
    node_index = {n: i for i, n in enumerate(nodes)}
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="ember-bench-") as d:
        tmp = Path(d)
        broker = MosquittoProcess(free_port(), extra_conf=broker_conf).start()
        cores = []
        procs = []
        try:
            if target == "core":
                (tmp / "m.tflite").write_bytes(blob)
                features = mqtt_load.Payloads(kind, size, scale).features()
                for w in range(workers):       # several workers: an MQTT 5 shared subscription splits the load
                    cid = "bench" if workers == 1 else f"bench{w}"
                    prof = profile / cid if profile is not None and workers > 1 else profile
                    cores.append(start_core(tmp, broker.host, broker.port, tmp / "m.tflite", features, kind,
                                            result_qos, prof, core_repo, core_conf, cid,
                                            "bench" if workers > 1 else ""))
                    if not wait_core_ready(broker.host, broker.port, cores[-1], core_id=cid):
                        raise RuntimeError("core did not start: " + (tmp / "core.log").read_text()[-3000:])
                topic, level = "ember/results/#", -1
            else:
                topic, level = "ember/nodes/+/data", 2
            results = ctx.Array("q", gens, lock=False)
            acked = ctx.Array("q", gens, lock=False)
            stop, ready = ctx.Event(), ctx.Event()
            sink = ctx.Process(target=_sink_entry, args=(dict(
                host=broker.host, port=broker.port, topic=topic, node_index=node_index, qos=1, node_level=level,
                stop=stop, ready=ready, results=results, nodes_per_gen=nodes_per_gen, expect_from=acked,
                quiet_s=drain,
                timeout=duration + drain + 120, out_path=str(tmp / "sink.npz")),), daemon=True)
            sink.start()
            if not ready.wait(20):
                raise RuntimeError("result sink did not subscribe")
            rss_idle = max((proc_mem_kb(c.pid).get("VmRSS", 0) for c in cores), default=0)
            t_start = time.monotonic() + 1.0
            for g in range(gens):
                p = ctx.Process(target=_gen_entry, args=(dict(
                    host=broker.host, port=broker.port, nodes=nodes[g * nodes_per_gen:(g + 1) * nodes_per_gen],
                    first_node=g * nodes_per_gen, payload=payload, duration=duration, t_start=t_start,
                    rate=rate / gens, window=0 if rate else max(1, window // gens), results=results, acked=acked,
                    gen_index=g, out_path=str(tmp / f"gen{g}.npz"), drain_s=drain),), daemon=True)
                p.start()
                procs.append(p)
            pids = {"broker": broker.proc.pid, "gen": [p.pid for p in procs], "sink": sink.pid}
            if cores:
                pids["core"] = [c.pid for c in cores]
            t_a, t_b = t_start + warm, t_start + duration
            cpu_a = cpu_b = None
            rss = []
            while time.monotonic() < t_b:
                now = time.monotonic()
                if cpu_a is None and now >= t_a:
                    cpu_a = _cpu_snapshot(pids)
                if cpu_a is not None and cores:
                    rss.append(max(proc_mem_kb(c.pid).get("VmRSS", 0) for c in cores))
                time.sleep(min(0.25, max(0.001, (t_a if cpu_a is None else t_b) - now)))
            cpu_b = _cpu_snapshot(pids)
            load_avg = os.getloadavg()
            for p in procs:
                p.join(drain + 30)
            stop.set()
            sink.join(drain + 30)
            hwm = max((proc_mem_kb(c.pid).get("VmHWM", 0) for c in cores), default=0)
            gen_out = [np.load(tmp / f"gen{g}.npz") for g in range(gens)]
            sink_out = np.load(tmp / "sink.npz")
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
            for c in cores:
                _terminate(c)
            broker.close()
        records = np.concatenate([g["records"] for g in gen_out])
        sent = int(sum(int(g["sent"]) for g in gen_out))
        acked_n = int(sum(int(g["acked"]) for g in gen_out))
        keys, times = sink_out["keys"], sink_out["times"]
        in_win = (times >= t_a) & (times < t_b)
        lat = mqtt_load.latencies(keys[in_win], times[in_win], mqtt_load.send_times(records, len(nodes)))
        lat = lat[np.isfinite(lat)] * 1e3
        n_win = int(in_win.sum())
        span = t_b - t_a
        uniq = len(np.unique(keys))
        out = {
            "model": model, "payload": kind, "load": "saturation" if not rate else f"{rate:.0f}/s",
            "target": target, "workers": len(cores), "gens": gens, "nodes": len(nodes),
            "msgs_per_s": round(n_win / span),
            "offered_per_s": round(_sent_between(records, t_a, t_b) / span),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
            "latency_ms_p99": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
            "sent": sent, "acked": acked_n, "received": len(keys), "lost": acked_n - uniq,
            "dup": len(keys) - uniq, "window_s": round(span, 2), "load_avg": [round(v, 2) for v in load_avg],
        }
        for name in ("core", "broker", "gen", "sink"):
            if name in cpu_a:
                used = cpu_b[name] - cpu_a[name]
                out[f"{name}_cpu_s"] = round(used, 2)
                out[f"{name}_us_per_msg"] = round(used / n_win * 1e6, 1) if n_win else None
        if cores:
            ta, tb = cpu_a["core_threads"], cpu_b["core_threads"]
            busy = sorted((tb[t] - ta.get(t, 0.0) for t in tb), reverse=True)
            out["core_thread_cpu_s"] = [round(v, 2) for v in busy if v >= 0.01]
            out["core_rss_peak_mb"] = round(hwm / 1024, 1)      # of the largest worker
            out["core_rss_median_mb"] = round(float(np.median(rss)) / 1024, 1) if rss else None
            out["core_rss_idle_mb"] = round(rss_idle / 1024, 1)
        return out


def _cpu_snapshot(pids: dict) -> dict:
    snap = {}
    for name, pid in pids.items():
        snap[name] = sum(proc_cpu(p) for p in pid) if isinstance(pid, list) else proc_cpu(pid)
    if "core" in pids:
        snap["core_threads"] = {t: v for p in pids["core"] for t, v in thread_cpu(p).items()}
    return snap


def _sent_between(records: np.ndarray, a: float, b: float) -> int:
    m = (records["t"] >= a) & (records["t"] < b)
    return int(records["n"][m].sum())


# ---------------------------------------------------------------- CLI + report
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=DEFAULT_CASES, help="MODEL:PAYLOAD:LOAD,... (default: %(default)s)")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds of load per case")
    ap.add_argument("--warm", type=float, default=3.0, help="seconds of load before the measuring window")
    ap.add_argument("--gens", type=int, default=1, help="load generator processes")
    ap.add_argument("--nodes", type=int, default=4, help="nodes (connections) per generator process")
    ap.add_argument("--window", type=int, default=1000, help="closed loop: messages outstanding end to end")
    ap.add_argument("--target", choices=["core", "broker"], default="core")
    ap.add_argument("--workers", type=int, default=1, help="core processes sharing the load ($share/ group)")
    ap.add_argument("--result-qos", type=int, default=1, choices=[0, 1], help="[core] result_qos")
    ap.add_argument("--profile", type=Path, help="cProfile every core thread into DIR/<case>/")
    ap.add_argument("--core-repo", type=Path, default=REPO,
                    help="run `python -m runtime.core` from this checkout (built; default: this one)")
    ap.add_argument("--broker-conf", default="", help="extra mosquitto.conf lines ('\\n' separated), "
                    "e.g. 'persistence false' to see what persistence costs")
    ap.add_argument("--core-conf", default="", help="extra [core] lines for core.toml ('\\n' separated), "
                    "e.g. 'queue_bytes = 262144'")
    ap.add_argument("--write", help="write a markdown report here (e.g. docs/benchmarks-core.md)")
    a = ap.parse_args(argv)
    rows = []
    for case in a.cases.split(","):
        try:
            model, kind, load = case.split(":")
        except ValueError:
            raise SystemExit(f"case {case!r}: expected MODEL:PAYLOAD:LOAD") from None
        prof = a.profile / case.replace(":", "-") if a.profile else None
        r = run_case(model, kind, load, duration=a.duration, warm=a.warm, gens=a.gens, nodes_per_gen=a.nodes,
                     window=a.window, target=a.target, result_qos=a.result_qos, profile=prof,
                     core_repo=a.core_repo.resolve(), broker_conf=a.broker_conf.replace("\\n", "\n") + "\n",
                     core_conf=a.core_conf.replace("\\n", "\n"), workers=a.workers)
        print(json.dumps(r), flush=True)
        rows.append(r)
        if prof is not None:
            sys.path.insert(0, str(REPO / "tools"))
            from profile_threads import report
            print(report(prof, 20), flush=True)
    if a.write:
        write_report(Path(a.write), rows, a, argv if argv is not None else sys.argv[1:])
    return 0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


def table(rows: list, argv: list) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"`python tools/bench_core.py {' '.join(argv)}` on {machine()}, {when}.", "",
             "| model | payload | load | msgs/s | p50 ms | p99 ms | core us/msg (threads s) | broker us/msg | "
             "gen + sink us/msg | core RSS MB idle / median / peak | lost | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        threads = ", ".join(f"{v:g}" for v in r.get("core_thread_cpu_s", [])[:2])
        core = f"{r['core_us_per_msg']} ({threads})" if "core_us_per_msg" in r else "-"
        rss = (f"{r['core_rss_idle_mb']} / {r['core_rss_median_mb']} / {r['core_rss_peak_mb']}"
               if "core_rss_peak_mb" in r else "-")
        load = f"{r['offered_per_s']}/s" if r["load"] != "saturation" else "closed loop"
        lines.append(f"| {r['model']} | {r['payload']} | {load} | {r['msgs_per_s']} | {r['latency_ms_p50']} | "
                     f"{r['latency_ms_p99']} | {core} | {r.get('broker_us_per_msg')} | "
                     f"{r.get('gen_us_per_msg')} + {r.get('sink_us_per_msg')} | {rss} | {r['lost']} | "
                     f"{r['load_avg'][0]} |")
    return "\n".join(lines)


def write_report(path: Path, rows: list, a, argv: list) -> None:
    """Put the table between `<!-- bench_core:TARGET -->` and `<!-- /bench_core:TARGET -->` in
    `path` (the prose around it is written by hand); a new file gets just the table."""
    start, end = f"<!-- bench_core:{a.target} -->", f"<!-- /bench_core:{a.target} -->"
    block = f"{start}\n{table(rows, argv)}\n{end}"
    text = path.read_text() if path.is_file() else ""
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = (text + "\n" if text else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
