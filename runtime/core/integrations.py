"""Attach the optional parts of the core to a `Core`, as core.toml asks:

* uplink: results are written to the durable outbox (runtime/core/outbox.py) before the node
  message is acknowledged, and an UplinkSender ships them to the cloud broker;
* deployments: `{prefix}/cores/{id}/deploy` feeds the DeploymentManager (runtime/core/deploy.py);
  a switched version replaces the served model atomically, failed requests are reported so a
  bad version rolls back;
* capture + drift statistics (runtime/core/capture.py, stats.py).
Each part reports into the core's retained status.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from ..errors import EmberError
from ..quant import dequantize
from .config import ConfigError, ModelRoute

log = logging.getLogger("ember.core")


def _tls(ca: str, cert: str, key: str):
    if not (ca or cert):
        return None
    import ssl   # only when TLS is configured (see lean_imports)

    try:
        ctx = ssl.create_default_context(cafile=ca or None)
        if cert:
            ctx.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"uplink TLS files cannot be used: {e}") from None
    return ctx


class Uplink:
    """Outbox + sender. `put(items)` is called by the worker for every batch of results."""

    def __init__(self, core):
        from .outbox import Outbox, UplinkSender
        cfg, u = core.cfg, core.cfg.uplink
        path = u.outbox or str(cfg.data_path() / "outbox.sqlite")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(path, max_messages=u.max_messages, max_age_s=u.max_age_s, overflow=u.overflow)
        prefix = u.topic_prefix if u.topic_prefix else f"{cfg.prefix}/uplink/{cfg.id}/"
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.sender = UplinkSender(self.outbox, u.host, u.port, client_id=u.client_id or f"ember-uplink-{cfg.id}",
                                   tls=_tls(u.tls_ca, u.tls_cert, u.tls_key), username=u.username or None,
                                   password=u.password or None, topic_prefix=prefix,
                                   protocol=u.protocol)
        self.core = core
        self.sender.start()

    @staticmethod
    def result_id(rid: str, node_payload) -> str:
        """The `ember-msg-id` of a result: made from its rid and the node message it was computed
        from, so the result recomputed from a redelivered node message (core crash before the
        PUBACK) goes out under the same id and the receiver drops it as a duplicate."""
        from .outbox import stable_msg_id
        return stable_msg_id(rid, node_payload)

    def put(self, items: list) -> bool:
        """Store (topic, payload, qos[, msg_id]) results durably; False when the outbox refused
        them (then the node messages are not acknowledged: the broker redelivers them after the
        next reconnection)."""
        from .outbox import OutboxError, OutboxFullError
        try:
            self.outbox.put_many(items)
            return True
        except OutboxFullError as e:
            self.core.counters["uplink_rejected"] += len(items)
            self.core._warn("uplink_rejected", "outbox full (overflow policy reject-new): %s", e)
        except OutboxError as e:
            self.core.counters["uplink_rejected"] += len(items)
            self.core._warn("uplink_rejected", "outbox refused %d results: %s", len(items), e)
        return False

    def status(self) -> dict:
        st = self.outbox.stats()
        st["uplink"] = self.sender.stats()
        return {"outbox": st}

    def close(self) -> None:
        self.sender.stop()
        self.outbox.close()


def _manifest_of(model) -> dict:
    from .package import io_spec
    return {"inputs": io_spec(model.inputs), "outputs": io_spec(model.outputs)}


class Deployments:
    """DeploymentManager wired to the core: MQTT topic in, statuses out, registry -> served models."""

    def __init__(self, core):
        from .deploy import DeploymentManager, DeploymentWorker, ModelRegistry, ModelVersion, deploy_topic
        from .package import load_trusted_keys
        cfg = core.cfg
        self.core = core
        self.registry = ModelRegistry()
        store = cfg.deploy.models_dir or str(cfg.data_path() / "models")
        try:
            keys = load_trusted_keys(cfg.deploy.trusted_keys)
        except (OSError, EmberError, ValueError) as e:
            raise ConfigError(f"deploy.trusted_keys: {e}") from None
        self.manager = DeploymentManager(self.registry, store, keys, loader=core.loader, core_id=cfg.id,
                                         prefix=cfg.prefix, publish=self._publish)
        for m in core.models.values():            # versions from core.toml are the starting point
            self.registry.switch(m.name, ModelVersion(m.name, m.version, m.model, _manifest_of(m.model), m.route.path))
        self.registry.subscribe(self._switched)
        for name, version in self.manager.restore():  # deployed versions survive restarts
            log.info("restored deployed model %s %s", name, version)
        for err in getattr(self.manager, "restore_errors", []):
            log.warning("stored model not restored: %s", err)
        self.worker = DeploymentWorker(self.manager).start()
        core.add_handler(deploy_topic(cfg.prefix, cfg.id), self.worker.submit)
        core.on_results.append(self._record)

    def _publish(self, topic: str, payload: bytes) -> None:
        if self.core.client is not None:
            self.core.client.publish(topic, payload, 1)

    def _switched(self, name, new, old) -> None:
        from .models import ServedModel
        if new is None:
            return
        route = next((r for r in self.core.cfg.models if r.name == name), None)
        if route is None:                            # a model deployed without a route in core.toml
            m = new.manifest
            route = ModelRoute(name=name, path=new.path, features=list(m.get("features", [])),
                               channels=list(m.get("channels", [])), nodes=list(m.get("nodes", ["*"])))
            self.core.cfg.models.append(route)
        served = ServedModel(replace(route, version=""), new.model, new.version,
                             {k: v for k, v in new.manifest.items() if k in ("labels", "threshold")})
        self.core.replace_model(served)
        log.info("model %s now serves version %s%s", name, new.version, f" (was {old.version})" if old else "")

    def _record(self, name: str, version: str, ok: int, failed: int) -> None:
        if not self.manager.watching(name, version):   # the common case: no lock, no wait
            return
        for _ in range(min(failed, self.manager.max_failures)):
            if self.manager.record_result(name, version, ok=False):
                return
        for _ in range(min(ok, self.manager.watch_requests)):
            self.manager.record_result(name, version, ok=True)

    def status(self) -> dict:
        return {"deploy": {**self.manager.counters, "history": self.manager.history[-5:]}}

    def close(self) -> None:
        self.worker.stop()


class CaptureAndStats:
    def __init__(self, core, uplink: Uplink | None):
        from .capture import Capture
        from .stats import StatsPublisher, StatsRegistry
        cfg, c = core.cfg, core.cfg.capture
        self.core = core
        self.capture = Capture(c.dir or str(cfg.data_path() / "capture"),
                               outbox=uplink.outbox if uplink else None,
                               topic=f"{cfg.prefix}/capture/{cfg.id}", sample_rate=c.sample_rate,
                               max_file_bytes=c.max_file_bytes, max_total_bytes=c.max_total_bytes)
        self.outbox = uplink.outbox if uplink else None
        self.stats = StatsRegistry()
        self._stats = {}                          # (model, version) -> ModelStats (names computed once)
        self.publisher = StatsPublisher(self.stats, publish=self._publish, topic_prefix=f"{cfg.prefix}/stats/{cfg.id}",
                                        interval_s=c.stats_interval_s).start()
        core.on_batch.append(self._on_batch)

    def _publish(self, topic: str, payload: bytes):
        """Stats go to the local broker and, with an uplink, through the outbox (durable, with a
        stable `ember-msg-id`: a window's stats put again keep their id)."""
        if self.outbox is not None:
            from .outbox import OutboxError, stable_msg_id
            try:
                self.outbox.put(topic, payload, 1, msg_id=stable_msg_id(topic, payload))
            except OutboxError as e:               # full (reject-new) or refused: counted, never fatal
                self.core.counters["uplink_rejected"] += 1
                self.core._warn("uplink_rejected", "outbox refused the stats on %s: %s", topic, e)
        if self.core.client is not None:
            return self.core.client.publish(topic, payload, 1)

    def _on_batch(self, model, nodes, x, raw, seconds, values) -> None:
        """Per worker batch: drift stats of the readings' values in feature units (what the nodes
        sent, before normalisation and quantization; int8 binary readings dequantized), the
        inference time per request, the class of each result's label; capture samples (the
        same input values and the dequantized outputs)."""
        key = (model.name, model.version)
        s = self._stats.get(key)
        if s is None:
            s = self._stats[key] = self.stats.get(model.name, model.version, model.input_names(),
                                                  model.class_names(raw.shape[1]))
        n = raw.shape[0]
        s.record(values, raw, seconds / n if n else 0.0, classes=model.classes(raw))
        self.capture.offer_many(model.name, model.version, nodes, values,
                                dequantize(raw, model.out_scale, model.out_zp))

    def status(self) -> dict:
        return {"capture": self.capture.stats()}

    def close(self) -> None:
        self.publisher.stop()
        self.capture.close()


def attach(core) -> None:
    cfg = core.cfg
    uplink = None
    if cfg.uplink.host:
        uplink = Uplink(core)
        core.uplink = uplink
        core.extensions.append(uplink)
    if cfg.deploy.enabled:
        try:
            core.extensions.append(Deployments(core))
        except ImportError as e:   # signatures need the 'cryptography' package
            log.warning("model deployments disabled: %s (pip install cryptography)", e)
    if cfg.capture.enabled:
        core.extensions.append(CaptureAndStats(core, uplink))


__all__ = ["attach", "Uplink", "Deployments", "CaptureAndStats", "json"]
