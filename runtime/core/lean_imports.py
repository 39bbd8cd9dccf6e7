"""Import paho-mqtt without OpenSSL when the configuration uses no TLS (saves ~3.5 MB of core RSS)
and without urllib.request until something uses it (~1.7 MB).

paho imports `ssl` (only to offer TLS) and `hashlib` (only for websockets) at module level; both load
libssl/libcrypto. A core whose broker and uplink use plain MQTT needs neither: `import_paho(cfg)` hides
`ssl` and `_hashlib` while paho (and what it pulls in: hashlib, urllib.request, http.client) is first
imported, then unhides them. hashlib then runs on CPython's builtin SHA-256 (the core only hashes model
files and packages with it); code can still `import ssl` later. With any TLS setting in the
configuration paho is imported normally.
"""
from __future__ import annotations

import sys
import types


def uses_tls(cfg) -> bool:
    b, u = cfg.broker, cfg.uplink
    return bool(b.tls_ca or b.tls_cert or b.tls_key or u.tls_ca or u.tls_cert or u.tls_key)


def import_paho(cfg) -> bool:
    """Import paho.mqtt.client for this configuration; True when it was imported without ssl."""
    hidden = ("ssl", "_hashlib", "hashlib")
    if uses_tls(cfg) or any(m in sys.modules for m in hidden) or "paho.mqtt.client" in sys.modules:
        import paho.mqtt.client  # noqa: F401
        return False
    sys.modules["ssl"] = None          # makes `import ssl` raise ImportError during paho's import
    sys.modules["_hashlib"] = None     # hashlib then uses CPython's builtin sha256/md5/... (no libcrypto)
    deferred = _defer("urllib.request")
    try:
        import hashlib  # noqa: F401
        import paho.mqtt.client as client
    finally:
        del sys.modules["ssl"], sys.modules["_hashlib"]
        if deferred is not None and sys.modules.get("urllib.request") is deferred:
            del sys.modules["urllib.request"]      # a later `import urllib.request` loads the real one
    # paho's socket reads name ssl.SSLWantReadError/SSLWantWriteError in `except` clauses even
    # without TLS, so it gets a stand-in whose exceptions are never raised; any TLS use fails clearly.
    client.ssl = _NoTLS("ssl")
    return True


class _Deferred(types.ModuleType):
    """Stands in for a module that is imported on first attribute use. paho imports urllib.request
    (+ http.client, email, calendar...: ~1.7 MB of RSS) only for proxy detection with PySocks."""

    def __getattr__(self, name):
        import importlib

        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def _defer(name: str):
    """Put a _Deferred stand-in for the submodule `name` (not yet imported) in place; None if loaded."""
    if name in sys.modules:
        return None
    parent, _, child = name.rpartition(".")
    stub = _Deferred(name)
    sys.modules[name] = stub
    setattr(__import__(parent), child, stub)
    return stub


class _NoTLS(types.ModuleType):
    class SSLWantReadError(OSError):
        pass

    class SSLWantWriteError(OSError):
        pass

    class SSLError(OSError):
        pass

    class CertificateError(ValueError):
        pass

    def __getattr__(self, name):
        raise RuntimeError(f"TLS is not available in this process (ssl.{name}): the core was started "
                           "with no TLS settings; set broker.tls_* or uplink.tls_* to use TLS")


def limit_malloc_arenas(n: int = 1) -> bool:
    """glibc: cap malloc arenas (default 8 per CPU); the core's paho and worker threads otherwise each
    get an arena whose freed memory stays resident (~1.5 MB at saturation). No-op elsewhere or when
    MALLOC_ARENA_MAX is set in the environment. True when applied."""
    import os

    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None).mallopt(-8, int(n)) == 1   # -8 = M_ARENA_MAX
    except (OSError, AttributeError):
        return False


__all__ = ["import_paho", "limit_malloc_arenas", "uses_tls"]
