"""Ember core service: MQTT ingest, routing to models, batched inference, results, status.

Entry points: `ember core --config core.toml`, `ember status`, `ember demo`
(runtime/commands/). Library use: `runtime.core.service.Core(load_config(path)).run()`.
"""
