"""`ember core` imports paho without OpenSSL when no TLS is configured (memory), and normally otherwise."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys
from runtime.core.config import load_config
from runtime.core.lean_imports import import_paho
cfg = load_config(sys.argv[1], {})
lean = import_paho(cfg)
import hashlib
import paho.mqtt.client as mqtt
out = {"lean": lean, "ssl": "ssl" in sys.modules, "_hashlib": "_hashlib" in sys.modules,
       "sha256": hashlib.sha256(b"abc").hexdigest()}
try:
    mqtt.ssl.SSLContext
    out["tls_error"] = ""
except RuntimeError as e:
    out["tls_error"] = str(e)
# a plain client still works with the stand-in (socket errors name ssl.SSLWant*Error in except clauses)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe")
out["client"] = type(c).__name__
print(json.dumps(out))
"""

SHA_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _probe(tmp_path, toml: str) -> dict:
    conf = tmp_path / "core.toml"
    conf.write_text(toml)
    r = subprocess.run([sys.executable, "-c", PROBE, str(conf)], cwd=str(REPO), capture_output=True,
                       text=True, timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_no_tls_config_imports_paho_without_openssl(tmp_path):
    out = _probe(tmp_path, '[broker]\nhost = "127.0.0.1"\nport = 1883\n')
    assert out["lean"] is True
    assert out["ssl"] is False and out["_hashlib"] is False
    assert out["sha256"] == SHA_ABC
    assert "TLS is not available" in out["tls_error"]
    assert out["client"] == "Client"


def test_tls_config_imports_paho_with_ssl(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not used by the probe\n")
    out = _probe(tmp_path, f'[broker]\nhost = "127.0.0.1"\nport = 8883\ntls_ca = "{ca}"\n')
    assert out["lean"] is False
    assert out["ssl"] is True
    assert out["sha256"] == SHA_ABC
    assert out["tls_error"] == ""


ARENAS = r"""
import json, os, sys
from runtime.core.lean_imports import limit_malloc_arenas
print(json.dumps({"applied": limit_malloc_arenas(), "glibc": os.confstr("CS_GNU_LIBC_VERSION") or ""}))
"""


def _arenas(env_extra: dict) -> dict:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **env_extra}
    r = subprocess.run([sys.executable, "-c", ARENAS], cwd=str(REPO), capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_malloc_arena_cap_applies_on_glibc_and_respects_the_environment():
    out = _arenas({})
    if sys.platform.startswith("linux") and out["glibc"].startswith("glibc"):
        assert out["applied"] is True
    assert _arenas({"MALLOC_ARENA_MAX": "4"})["applied"] is False


DEFERRED = r"""
import json, sys
from runtime.core.config import load_config
from runtime.core.lean_imports import import_paho
cfg = load_config(sys.argv[1], {})
import_paho(cfg)
import paho.mqtt.client as mqtt
out = {"after_paho": sorted(m for m in ("urllib.request", "http.client", "email") if m in sys.modules)}
out["getproxies"] = callable(mqtt.urllib.request.getproxies)      # paho's own use loads it on demand
out["loaded"] = type(sys.modules.get("urllib.request")).__name__
import urllib.request
out["urlopen"] = callable(urllib.request.urlopen) and mqtt.urllib.request is urllib.request
print(json.dumps(out))
"""


def test_urllib_request_is_imported_only_when_used(tmp_path):
    conf = tmp_path / "core.toml"
    conf.write_text('[broker]\nhost = "127.0.0.1"\n')
    r = subprocess.run([sys.executable, "-c", DEFERRED, str(conf)], cwd=str(REPO), capture_output=True, text=True,
                       timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"after_paho": [], "getproxies": True, "loaded": "module", "urlopen": True}
