"""Model deployments: a versioned model registry, the core-side DeploymentManager, the MQTT
DeployAgent that feeds it, and the `ember deploy` client.

Interface (core side):

    registry = ModelRegistry()
    mv = registry.get("kws")            # ModelVersion(name, version, model, manifest, ...) or None
    # Read it ONCE per request and use that object for the whole request: a deployment swaps
    # the registry entry atomically, requests in flight finish on the version they started with.
    registry.subscribe(lambda name, new, old: ...)   # called after every switch (new may be None)

    mgr = DeploymentManager(registry, store_dir="/var/lib/ember/models",
                            trusted_keys=load_trusted_keys(["/etc/ember/trusted.d"]),
                            loader=runtime.load, keep=3, core_id="core-1",
                            publish=lambda topic, payload: client.publish(topic, payload, qos=1))
    mgr.restore()                       # load the active version of every stored model
    status = mgr.handle_message(payload)    # payload of ember/cores/{core}/deploy (see below)
    mgr.record_result("kws", mv.version, ok=False)  # service reports failed requests -> may roll back

    agent = DeployAgent(mgr, host, port, core_id="core-1", prefix="ember").start()   # or route
    agent.stop()                                                                        # yourself

Client side:

    status = deploy_package(blob, core="core-1", host="127.0.0.1", port=1883, timeout_s=60)
    status = request_rollback("kws", core="core-1", host=..., port=...)

Messages:
- `{prefix}/cores/{core}/deploy` (QoS 1): either a package archive (see package.py) or a JSON
  control message `{"action": "rollback", "name": "<model>"}`.
- `{prefix}/cores/{core}/deploy/status` (QoS 1, not retained): JSON
  `{"deploy_id", "core", "state", "name", "version", "previous", "reason", "t"}` where deploy_id
  is the first 16 hex digits of sha256(payload) and state is one of received, verifying,
  smoke_test, then a final state: active, rejected, rolled_back.

A deployment: verify (signature against trusted keys, sha256, manifest schema, semver) -> store
on disk (`store/<name>/<version>/{package.ember,model.tflite}`, written to a temp dir and
renamed) -> load beside the serving version -> compare the manifest's I/O spec with the model's
real I/O and with the serving version's (a new version must keep the input/output shapes and
dtypes, so routes keep working) -> smoke test (sample input -> expected output) -> atomic switch
and `store/<name>/active.json` (written atomically) -> prune to `keep` versions on disk (never
the active or previous one). Any failure before the switch rejects the package with the reason
and the old version keeps serving. After the switch the manager watches the first
`watch_requests` results the service records; `max_failures` failures among them roll back to
the previous version automatically (state rolled_back). A rollback can also be requested.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from runtime.errors import EmberError

from .package import (Package, PackageError, check_model_io, package_id, read_package,
                      run_smoke_test, semver_key)

log = logging.getLogger("ember.core.deploy")

FINAL_STATES = ("active", "rejected", "rolled_back")
PACKAGE_FILE = "package.ember"
MODEL_FILE = "model.tflite"
ACTIVE_FILE = "active.json"


class DeployError(EmberError):
    """A deployment could not be carried out or its status did not arrive in time."""


def deploy_topic(prefix: str, core: str) -> str:
    return f"{prefix}/cores/{core}/deploy"


def status_topic(prefix: str, core: str) -> str:
    return f"{prefix}/cores/{core}/deploy/status"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    model: object
    manifest: dict
    path: str = ""
    package_id: str = ""
    activated_at: float = field(default_factory=time.time)

    @property
    def labels(self) -> list:
        return list(self.manifest.get("labels", []))


class ModelRegistry:
    """name -> active ModelVersion. Reads take no lock; switches are atomic reference swaps."""

    def __init__(self):
        self._active: dict[str, ModelVersion] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable] = []

    def get(self, name: str) -> ModelVersion | None:
        return self._active.get(name)

    def names(self) -> list[str]:
        return sorted(self._active)

    def active(self) -> dict[str, ModelVersion]:
        return dict(self._active)

    def subscribe(self, callback: Callable[[str, ModelVersion | None, ModelVersion | None], None]) -> None:
        self._listeners.append(callback)

    def switch(self, name: str, new: ModelVersion | None) -> ModelVersion | None:
        """Make `new` the active version of `name` (None removes it); returns the old one."""
        with self._lock:
            old = self._active.get(name)
            active = dict(self._active)
            if new is None:
                active.pop(name, None)
            else:
                active[name] = new
            self._active = active           # one reference assignment: readers see old or new
        for cb in list(self._listeners):
            try:
                cb(name, new, old)
            except Exception:               # a listener must not break a deployment
                pass
        return old


def _atomic_write(path: str, data: bytes) -> None:
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class DeploymentManager:
    """Verifies, stores, loads, smoke-tests, switches and rolls back model versions."""

    def __init__(self, registry: ModelRegistry, store_dir: str, trusted_keys: list, *,
                 loader: Callable | None = None, keep: int = 3, core_id: str = "core",
                 prefix: str = "ember", publish: Callable[[str, bytes], None] | None = None,
                 watch_requests: int = 100, max_failures: int = 5, allow_io_change: bool = False,
                 clock: Callable[[], float] = time.time):
        if keep < 2:
            raise DeployError("keep must be >= 2 (the active and the previous version)")
        self.registry = registry
        self.store_dir = str(store_dir)
        os.makedirs(self.store_dir, exist_ok=True)
        self.trusted_keys = list(trusted_keys)
        self._loader = loader
        self.keep = keep
        self.core_id, self.prefix = core_id, prefix
        self.publish = publish
        self.watch_requests, self.max_failures = watch_requests, max_failures
        self.allow_io_change = allow_io_change
        self._clock = clock
        self._lock = threading.RLock()
        self._previous: dict[str, ModelVersion] = {}
        self._watch: dict[str, list] = {}       # name -> [version, results seen, failures]
        self.history: list[dict] = []
        self.counters = {"deployed": 0, "rejected": 0, "rolled_back": 0}

    # -- helpers -----------------------------------------------------------------------------
    @property
    def loader(self):
        if self._loader is None:
            from runtime import load
            self._loader = load
        return self._loader

    def _status(self, deploy_id: str, state: str, name: str = "", version: str = "",
                reason: str = "", previous: str = "") -> dict:
        st = {"deploy_id": deploy_id, "core": self.core_id, "state": state, "name": name,
              "version": version, "previous": previous, "reason": reason, "t": self._clock()}
        if state in FINAL_STATES:
            self.history.append(st)
            del self.history[:-100]
        if self.publish is not None:
            try:
                self.publish(status_topic(self.prefix, self.core_id), json.dumps(st).encode())
            except Exception:
                pass                          # status is best effort; the result is returned too
        return st

    def _version_dir(self, name: str, version: str) -> str:
        return os.path.join(self.store_dir, name, version)

    # -- entry points ------------------------------------------------------------------------
    def handle_message(self, payload: bytes) -> dict:
        """Handle one payload of the deploy topic (a package or a JSON control message)."""
        payload = bytes(payload)
        did = package_id(payload)
        if payload[:1] == b"{":
            try:
                msg = json.loads(payload.decode("utf-8"))
                action, name = msg["action"], msg["name"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                self.counters["rejected"] += 1
                return self._status(did, "rejected", reason="control message must be JSON "
                                    '{"action": "rollback", "name": MODEL}')
            if action != "rollback" or not isinstance(name, str):
                self.counters["rejected"] += 1
                return self._status(did, "rejected", reason=f"unknown control action {action!r}")
            return self.rollback(name, reason="requested", deploy_id=did)
        return self.deploy(payload)

    def deploy(self, blob: bytes) -> dict:
        did = package_id(blob)
        with self._lock:
            self._status(did, "received")
            try:
                self._status(did, "verifying")
                pkg = read_package(blob, self.trusted_keys)
            except PackageError as e:
                self.counters["rejected"] += 1
                return self._status(did, "rejected", reason=str(e))
            current = self.registry.get(pkg.name)
            path = None
            try:
                if current is not None and current.version == pkg.version:
                    raise PackageError(f"{pkg.name} {pkg.version} is already the active version")
                path = self._store(pkg)
                try:
                    model = self.loader(pkg.model_bytes)
                except EmberError as e:
                    raise PackageError(f"model does not load: {e}") from None
                check_model_io(pkg.manifest, model)
                if current is not None and not self.allow_io_change:
                    self._check_compatible(current.manifest, pkg.manifest)
                self._status(did, "smoke_test", pkg.name, pkg.version)
                run_smoke_test(pkg.manifest, model)
            except PackageError as e:
                self.counters["rejected"] += 1
                keep = {v.version for v in (current, self._previous.get(pkg.name)) if v}
                if path is not None and pkg.version not in keep:
                    shutil.rmtree(path, ignore_errors=True)   # a rejected version is not kept
                return self._status(did, "rejected", pkg.name, pkg.version, reason=str(e),
                                    previous=current.version if current else "")
            new = ModelVersion(pkg.name, pkg.version, model, pkg.manifest, path, pkg.package_id,
                               self._clock())
            self._activate(new, current)
            self.counters["deployed"] += 1
            self._prune(pkg.name)
            return self._status(did, "active", pkg.name, pkg.version,
                                previous=current.version if current else "")

    def rollback(self, name: str, reason: str = "requested", deploy_id: str | None = None) -> dict:
        did = deploy_id or uuid.uuid4().hex[:16]
        with self._lock:
            current = self.registry.get(name)
            previous = self._previous.get(name)
            if current is None or previous is None:
                self.counters["rejected"] += 1
                return self._status(did, "rejected", name, current.version if current else "",
                                    reason=f"no previous version of {name!r} to roll back to")
            self._activate(previous, None)
            self._previous.pop(name, None)
            self._watch.pop(name, None)
            self.counters["rolled_back"] += 1
            return self._status(did, "rolled_back", name, previous.version,
                                reason=f"rolled back from {current.version}: {reason}",
                                previous=current.version)

    def watching(self, name: str, version: str) -> bool:
        """Is `version` of `name` in its watch window after a switch? Lock-free (one dict read), so
        the worker, which asks after every batch, never waits for a deployment in progress."""
        w = self._watch.get(name)
        return w is not None and w[0] == version

    def record_result(self, name: str, version: str, ok: bool) -> dict | None:
        """The service reports each request's outcome; too many early failures roll back.
        Returns the rollback status when one happened."""
        with self._lock:
            w = self._watch.get(name)
            if w is None or w[0] != version:
                return None
            w[1] += 1
            if not ok:
                w[2] += 1
            if w[2] >= self.max_failures:
                return self.rollback(name, reason=f"{w[2]} failed requests among the first {w[1]}")
            if w[1] >= self.watch_requests:
                self._watch.pop(name, None)
        return None

    # -- steps -------------------------------------------------------------------------------
    def _store(self, pkg: Package) -> str:
        vdir = self._version_dir(pkg.name, pkg.version)
        parent = os.path.dirname(vdir)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=".incoming-")
        try:
            for fname, data in ((PACKAGE_FILE, pkg.raw), (MODEL_FILE, pkg.model_bytes)):
                with open(os.path.join(tmp, fname), "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            if os.path.exists(vdir):
                shutil.rmtree(vdir)
            os.replace(tmp, vdir)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise PackageError(f"cannot store the package: {e}") from None
        return vdir

    @staticmethod
    def _check_compatible(old: dict, new: dict) -> None:
        for key in ("inputs", "outputs"):
            a = [(t["shape"], t["dtype"]) for t in old[key]]
            b = [(t["shape"], t["dtype"]) for t in new[key]]
            if a != b:
                raise PackageError(f"{key} {b} differ from the serving version's {a} "
                                   f"(deploy it under a new model name)")

    def _activate(self, new: ModelVersion, current: ModelVersion | None) -> None:
        """Switch to `new`; `current` (None for a rollback) becomes the previous version."""
        pointer = {"version": new.version, "package_id": new.package_id,
                   "previous": current.version if current else ""}
        _atomic_write(os.path.join(self.store_dir, new.name, ACTIVE_FILE),
                      json.dumps(pointer).encode())
        if current is not None:                   # watched from its first request on
            self._previous[new.name] = current
            self._watch[new.name] = [new.version, 0, 0]
        self.registry.switch(new.name, new)

    def _prune(self, name: str) -> None:
        base = os.path.join(self.store_dir, name)
        protected = {v.version for v in (self.registry.get(name), self._previous.get(name)) if v}
        versions = [d for d in os.listdir(base)
                    if os.path.isdir(os.path.join(base, d)) and not d.startswith(".")]
        try:
            versions.sort(key=semver_key, reverse=True)
        except PackageError:
            versions.sort(reverse=True)
        keep = set(protected)
        for v in versions:
            if len(keep) >= self.keep:
                break
            keep.add(v)
        for v in versions:
            if v not in keep:
                shutil.rmtree(os.path.join(base, v), ignore_errors=True)

    def stored_versions(self, name: str) -> list[str]:
        base = os.path.join(self.store_dir, name)
        if not os.path.isdir(base):
            return []
        return sorted((d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d))
                       and not d.startswith(".")), key=semver_key)

    def restore(self) -> list[tuple[str, str]]:
        """Load the active version of every model in the store (after a restart). A stored
        version that no longer verifies or loads is skipped and reported in `errors`."""
        restored = []
        self.restore_errors: list[str] = []
        for name in sorted(os.listdir(self.store_dir)):
            ptr = os.path.join(self.store_dir, name, ACTIVE_FILE)
            if not os.path.isfile(ptr):
                continue
            try:
                with open(ptr, "rb") as f:
                    pointer = json.loads(f.read())
                version = pointer["version"]
                mv = self._load_stored(name, version)
                prev = pointer.get("previous")
                if prev and os.path.isdir(self._version_dir(name, prev)):
                    try:
                        self._previous[name] = self._load_stored(name, prev)
                    except (PackageError, OSError, EmberError) as e:
                        self.restore_errors.append(f"{name} {prev} (previous): {e}")
            except (PackageError, OSError, EmberError, ValueError, KeyError) as e:
                self.restore_errors.append(f"{name}: {e}")
                continue
            self.registry.switch(name, mv)
            restored.append((name, version))
        return restored

    def _load_stored(self, name: str, version: str) -> ModelVersion:
        vdir = self._version_dir(name, version)
        with open(os.path.join(vdir, PACKAGE_FILE), "rb") as f:
            pkg = read_package(f.read(), self.trusted_keys)
        if pkg.name != name or pkg.version != version:
            raise PackageError(f"stored package {vdir} holds {pkg.name} {pkg.version}")
        model = self.loader(pkg.model_bytes)
        check_model_io(pkg.manifest, model)
        return ModelVersion(name, version, model, pkg.manifest, vdir, pkg.package_id, self._clock())


class DeploymentWorker:
    """Runs deployments one at a time on a worker thread, off the MQTT network thread.

    ``submit(payload)`` never blocks: with 16 deployments already waiting, the new one is
    rejected (counted, status published). The worker never dies: an unexpected error rejects
    that deployment with the reason and the worker goes on."""

    def __init__(self, manager: DeploymentManager, maxsize: int = 16):
        self.manager = manager
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="ember-deploy", daemon=True)

    def start(self) -> "DeploymentWorker":
        self._thread.start()
        return self

    def submit(self, payload) -> None:
        payload = bytes(payload)
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.manager.counters["rejected"] += 1
            self.manager._status(package_id(payload), "rejected", reason="deployment queue full; retry later")

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                payload = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.manager.handle_message(payload)
            except Exception as e:  # never let the worker die
                log.exception("deployment failed")
                self.manager._status(package_id(payload), "rejected", reason=f"internal error: {e}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)


class DeployAgent:
    """Core-side MQTT glue: subscribes to the deploy topic, runs deployments one at a time on a
    worker thread, publishes statuses. Use it when the service does not route the topic itself."""

    def __init__(self, manager: DeploymentManager, host: str, port: int = 1883, *,
                 core_id: str | None = None, prefix: str | None = None, tls=None,
                 username: str | None = None, password: str | None = None):
        import paho.mqtt.client as mqtt
        self.manager = manager
        self.core_id = core_id or manager.core_id
        self.prefix = prefix or manager.prefix
        self.host, self.port = host, int(port)
        self.worker = DeploymentWorker(manager)
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"ember-deploy-{self.core_id}")
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.reconnect_delay_set(0.2, 10)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        manager.publish = lambda topic, payload: self.client.publish(topic, payload, qos=1)

    def _on_connect(self, client, userdata, flags, rc, props):
        if not rc.is_failure:
            client.subscribe(deploy_topic(self.prefix, self.core_id), qos=1)

    def _on_message(self, client, userdata, msg):
        self.worker.submit(msg.payload)

    def start(self, timeout_s: float = 10.0) -> "DeployAgent":
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        self.worker.start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise DeployError(f"could not subscribe to {deploy_topic(self.prefix, self.core_id)}")
        return self

    def stop(self) -> None:
        self.worker.stop()
        self.client.disconnect()
        self.client.loop_stop()


def _send_and_wait(payload: bytes, core: str, host: str, port: int, prefix: str,
                   timeout_s: float, tls, username, password, on_status) -> dict:
    import paho.mqtt.client as mqtt
    did = package_id(payload)
    final: dict = {}
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client, userdata, msg):
        try:
            st = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(st, dict) or st.get("deploy_id") != did:
            return
        if on_status is not None:
            on_status(st)
        if st.get("state") in FINAL_STATES:
            final.update(st)
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"ember-deployer-{uuid.uuid4().hex[:8]}")
    if username is not None:
        client.username_pw_set(username, password)
    if tls is not None:
        client.tls_set_context(tls)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    try:
        client.connect(host, int(port))
    except OSError as e:
        raise DeployError(f"cannot connect to broker {host}:{port}: {e}") from None
    client.loop_start()
    try:
        client.subscribe(status_topic(prefix, core), qos=1)
        if not subscribed.wait(min(timeout_s, 10)):
            raise DeployError(f"broker {host}:{port} did not confirm the status subscription")
        info = client.publish(deploy_topic(prefix, core), payload, qos=1)
        info.wait_for_publish(timeout=min(timeout_s, 30))
        if not info.is_published():
            raise DeployError(f"broker {host}:{port} did not acknowledge the deployment")
        if not done.wait(timeout_s):
            raise DeployError(f"no final deployment status from core {core!r} within {timeout_s:g}s "
                              f"(deploy id {did}); is the core running and subscribed?")
        return dict(final)
    finally:
        client.disconnect()
        client.loop_stop()


def deploy_package(blob: bytes, core: str, host: str = "127.0.0.1", port: int = 1883, *,
                   prefix: str = "ember", timeout_s: float = 60.0, tls=None,
                   username: str | None = None, password: str | None = None,
                   on_status: Callable[[dict], None] | None = None) -> dict:
    """Publish a package to a core and wait for its final status (active/rejected/rolled_back)."""
    return _send_and_wait(bytes(blob), core, host, port, prefix, timeout_s, tls, username,
                          password, on_status)


def request_rollback(name: str, core: str, host: str = "127.0.0.1", port: int = 1883, *,
                     prefix: str = "ember", timeout_s: float = 30.0, tls=None,
                     username: str | None = None, password: str | None = None) -> dict:
    """Ask a core to switch `name` back to its previous version; returns the final status."""
    payload = json.dumps({"action": "rollback", "name": name, "nonce": uuid.uuid4().hex}).encode()
    return _send_and_wait(payload, core, host, port, prefix, timeout_s, tls, username, password, None)
