"""Signed model packages: `.tflite` + `manifest.json` + ed25519 signature in one tar archive.

Interface:

    priv_pem, pub_pem = generate_keypair()
    write_keypair("keys/release")               # keys/release (0600) + keys/release.pub
    key = load_private_key(path_or_pem); pub = load_public_key(path_or_pem)
    trusted = load_trusted_keys(["keys/release.pub", "trusted.d/"])   # files or directories of *.pub

    blob = build_package(model_bytes, name="kws", version="1.2.0", private_key=key,
                         inputs=io_spec(m.inputs), outputs=io_spec(m.outputs),
                         labels=["yes", "no"], sample_input={"input": x},
                         expected_output={"output": y})
    blob = package_model(model_bytes, name, version, key, loader=runtime.load, ...)
        # same, but reads the I/O spec from the loaded model and computes the expected
        # output of the sample input (seeded random int8 input when none is given)

    pkg = read_package(blob, trusted)           # -> Package; raises PackageError(reason)
    pkg.name, pkg.version, pkg.manifest, pkg.model_bytes, pkg.key_id, pkg.package_id
    check_model_io(pkg.manifest, loaded_model)  # manifest I/O spec vs the model's real I/O
    run_smoke_test(pkg.manifest, loaded_model)  # sample input -> expected output, or raise

Archive layout (plain tar, exactly these three regular files):
    manifest.json      UTF-8 JSON (format "ember-package/1"), see `build_manifest`
    model.tflite       the model
    signature          64-byte ed25519 signature of the exact manifest.json bytes
The manifest holds the model's sha256 and size, so the signature covers the model too.
`package_id` = first 16 hex digits of sha256(archive); deployments are reported under it.

Every rejection is a PackageError whose message says what is wrong (unsigned, signature does
not verify with any trusted key, sha256 mismatch, bad semver, manifest field missing, wrong
shape...). Verification order: archive structure -> signature -> manifest schema -> sha256.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from runtime.errors import EmberError

FORMAT = "ember-package/1"
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.tflite"
SIGNATURE_NAME = "signature"
MAX_MODEL_BYTES = 256 << 20
MAX_MANIFEST_BYTES = 16 << 20
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# semver.org 2.0.0 regular expression
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")


class PackageError(EmberError, ValueError):
    """A model package is malformed, unsigned, tampered with, or does not match its model."""


class SmokeTestError(PackageError):
    """The model's output for the package's sample input differs from the expected output."""


# -- keys ------------------------------------------------------------------------------------
def _crypto():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as e:  # pragma: no cover - cryptography is a declared dependency
        raise PackageError("package signing needs the `cryptography` package (pip install cryptography)") from e
    return ed25519, serialization, InvalidSignature


def generate_keypair() -> tuple[bytes, bytes]:
    """A new ed25519 key pair as (private PKCS8 PEM, public SubjectPublicKeyInfo PEM)."""
    ed25519, ser, _ = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    priv = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    pub = key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    return priv, pub


def write_keypair(path: str, overwrite: bool = False) -> tuple[str, str]:
    """Write a new key pair to `path` (private, mode 0600) and `path.pub`; returns both paths."""
    pub_path = path + ".pub"
    if not overwrite and (os.path.exists(path) or os.path.exists(pub_path)):
        raise PackageError(f"{path} or {pub_path} already exists (refusing to overwrite a key)")
    priv, pub = generate_keypair()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(priv)
    with open(pub_path, "wb") as f:
        f.write(pub)
    return path, pub_path


def _read_pem(path_or_pem) -> bytes:
    if isinstance(path_or_pem, bytes):
        return path_or_pem
    if isinstance(path_or_pem, str) and path_or_pem.lstrip().startswith("-----BEGIN"):
        return path_or_pem.encode()
    try:
        with open(path_or_pem, "rb") as f:
            return f.read()
    except OSError as e:
        raise PackageError(f"cannot read key {path_or_pem}: {e.strerror}") from None


def load_private_key(path_or_pem):
    ed25519, ser, _ = _crypto()
    try:
        key = ser.load_pem_private_key(_read_pem(path_or_pem), password=None)
    except (ValueError, TypeError) as e:
        raise PackageError(f"not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise PackageError(f"signing key must be ed25519, got {type(key).__name__}")
    return key


def load_public_key(path_or_pem):
    ed25519, ser, _ = _crypto()
    try:
        key = ser.load_pem_public_key(_read_pem(path_or_pem))
    except (ValueError, TypeError) as e:
        raise PackageError(f"not a PEM public key: {e}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise PackageError(f"trusted key must be ed25519, got {type(key).__name__}")
    return key


def load_trusted_keys(paths: Iterable[str]) -> list:
    """Public keys from files and from `*.pub` files in directories."""
    keys = []
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.endswith(".pub"):
                    keys.append(load_public_key(os.path.join(p, name)))
        else:
            keys.append(load_public_key(p))
    return keys


def key_id(public_key) -> str:
    """First 16 hex digits of sha256 of the raw 32-byte public key."""
    _, ser, _ = _crypto()
    raw = public_key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# -- tensors in JSON ---------------------------------------------------------------------------
def encode_array(a) -> dict:
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.name, "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d, what: str = "array") -> np.ndarray:
    if not isinstance(d, dict) or not {"dtype", "shape", "data"} <= set(d):
        raise PackageError(f"{what}: expected an object with dtype, shape and data")
    try:
        dtype = np.dtype(d["dtype"])
        shape = tuple(int(s) for s in d["shape"])
        raw = base64.b64decode(d["data"], validate=True)
    except (TypeError, ValueError) as e:
        raise PackageError(f"{what}: {e}") from None
    if dtype.kind not in "iuf" or any(s < 0 for s in shape):
        raise PackageError(f"{what}: unsupported dtype {dtype} or negative shape {shape}")
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        raise PackageError(f"{what}: {len(raw)} data bytes do not match shape {list(shape)} of {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def io_spec(tensors) -> list[dict]:
    """The manifest form of a loaded model's `inputs` or `outputs`."""
    out = []
    for t in tensors:
        out.append({"name": str(getattr(t, "name", "")),
                    "shape": [int(s) for s in t.shape],
                    "dtype": np.dtype(t.dtype).name,
                    "scale": float(getattr(t, "scale", 0.0) or 0.0),
                    "zero_point": int(getattr(t, "zero_point", 0) or 0)})
    return out


# -- building ----------------------------------------------------------------------------------
def check_name_version(name, version) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise PackageError(f"invalid model name {name!r}: use 1-64 of [A-Za-z0-9_.-], starting alphanumeric")
    if not isinstance(version, str) or not SEMVER_RE.match(version):
        raise PackageError(f"invalid version {version!r}: not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])")


def semver_key(version: str) -> tuple:
    """Sort key with semver precedence (pre-releases before the release; build ignored)."""
    m = SEMVER_RE.match(version)
    if not m:
        raise PackageError(f"invalid version {version!r}")
    pre = m.group(4)
    pre_key = (1,) if pre is None else (0,) + tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), pre_key)


def build_manifest(model_bytes: bytes, name: str, version: str, *, inputs: list[dict],
                   outputs: list[dict], labels=None, sample_input: dict | None = None,
                   expected_output: dict | None = None, tolerance: int = 0,
                   key_id_hex: str = "", description: str = "") -> dict:
    check_name_version(name, version)
    manifest = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "description": description,
        "created": int(time.time()),
        "model": {"file": MODEL_NAME, "sha256": hashlib.sha256(model_bytes).hexdigest(),
                  "size": len(model_bytes)},
        "inputs": inputs,
        "outputs": outputs,
        "labels": list(labels or []),
        "key_id": key_id_hex,
    }
    if sample_input is not None:
        if expected_output is None:
            raise PackageError("a sample input needs its expected output")
        manifest["sample"] = {
            "input": {k: encode_array(v) for k, v in sample_input.items()},
            "expected_output": {k: encode_array(v) for k, v in expected_output.items()},
            "tolerance": int(tolerance),
        }
    _check_manifest(manifest)
    return manifest


def build_package(model_bytes: bytes, name: str, version: str, private_key, **manifest_fields) -> bytes:
    """Sign and archive a model; returns the package bytes."""
    key = load_private_key(private_key) if isinstance(private_key, (str, bytes)) else private_key
    manifest = build_manifest(bytes(model_bytes), name, version,
                              key_id_hex=key_id(key.public_key()), **manifest_fields)
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    return _archive(manifest_bytes, bytes(model_bytes), key.sign(manifest_bytes))


def _archive(manifest_bytes: bytes, model_bytes: bytes, signature: bytes | None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        members = [(MANIFEST_NAME, manifest_bytes), (MODEL_NAME, model_bytes)]
        if signature is not None:
            members.append((SIGNATURE_NAME, signature))
        for member, data in members:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _as_model_inputs(manifest_inputs, sample_inputs: dict):
    arrays = [sample_inputs[t["name"]] for t in manifest_inputs]
    return arrays[0] if len(arrays) == 1 else arrays


def _outputs_by_name(result, output_names: list[str]) -> dict:
    if isinstance(result, dict):
        return {k: np.asarray(v) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return {n: np.asarray(v) for n, v in zip(output_names, result)}
    return {output_names[0]: np.asarray(result)}


def package_model(model_bytes: bytes, name: str, version: str, private_key, *,
                  loader: Callable | None = None, labels=None, sample_input=None,
                  seed: int = 0, description: str = "") -> bytes:
    """Load the model, take its I/O spec, run the sample input (seeded random int8 when none is
    given) to get the expected output, and build the signed package."""
    check_name_version(name, version)
    if loader is None:
        from runtime import load as loader  # type: ignore[no-redef]
    model = loader(bytes(model_bytes))
    inputs, outputs = io_spec(model.inputs), io_spec(model.outputs)
    if sample_input is None:
        rng = np.random.default_rng(seed)
        sample = {}
        for t in inputs:
            dt = np.dtype(t["dtype"])
            if dt.kind in "iu":
                info = np.iinfo(dt)
                sample[t["name"]] = rng.integers(info.min, info.max, size=t["shape"], endpoint=True, dtype=dt)
            else:
                sample[t["name"]] = rng.standard_normal(t["shape"]).astype(dt)
    elif isinstance(sample_input, dict):
        sample = {k: np.asarray(v) for k, v in sample_input.items()}
    else:
        sample = {inputs[0]["name"]: np.asarray(sample_input)}
    for t in inputs:
        if t["name"] not in sample:
            raise PackageError(f"sample input for model input {t['name']!r} is missing")
        a = sample[t["name"]]
        if list(a.shape) != t["shape"] or a.dtype.name != t["dtype"]:
            raise PackageError(f"sample input {t['name']!r} is {a.dtype.name}{list(a.shape)}, "
                               f"the model wants {t['dtype']}{t['shape']}")
    expected = _outputs_by_name(model.infer(_as_model_inputs(inputs, sample)), [t["name"] for t in outputs])
    return build_package(model_bytes, name, version, private_key, inputs=inputs, outputs=outputs,
                         labels=labels, sample_input=sample, expected_output=expected,
                         description=description)


# -- reading and verifying ------------------------------------------------------------------------
@dataclass(frozen=True)
class Package:
    manifest: dict
    model_bytes: bytes
    key_id: str
    package_id: str
    raw: bytes

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]


def package_id(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:16]


def _members(blob: bytes) -> dict[str, bytes]:
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise PackageError(f"package must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < 512:
        raise PackageError(f"package is truncated or not a tar archive ({len(blob)} bytes)")
    try:
        tar = tarfile.open(fileobj=io.BytesIO(blob), mode="r:")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise PackageError(f"package is not a tar archive: {e}") from None
    out: dict[str, bytes] = {}
    allowed = {MANIFEST_NAME: MAX_MANIFEST_BYTES, MODEL_NAME: MAX_MODEL_BYTES, SIGNATURE_NAME: 1024}
    try:
        with tar:
            for info in tar:
                if info.name not in allowed:
                    raise PackageError(f"package has an unexpected member {info.name!r}")
                if not info.isreg():
                    raise PackageError(f"package member {info.name!r} is not a regular file")
                if info.name in out:
                    raise PackageError(f"package member {info.name!r} appears twice")
                if info.size > allowed[info.name]:
                    raise PackageError(f"package member {info.name!r} is too large ({info.size} bytes)")
                f = tar.extractfile(info)
                data = f.read() if f is not None else b""
                if len(data) != info.size:
                    raise PackageError(f"package member {info.name!r} is truncated")
                out[info.name] = data
    except (tarfile.TarError, EOFError, OSError) as e:
        raise PackageError(f"package archive is corrupt: {e}") from None
    for required in (MANIFEST_NAME, MODEL_NAME):
        if required not in out:
            raise PackageError(f"package has no {required}")
    if SIGNATURE_NAME not in out:
        raise PackageError("package is unsigned (no signature member)")
    return out


def _require(d: dict, key: str, kind, where: str):
    if key not in d:
        raise PackageError(f"manifest: {where}{key} is missing")
    if not isinstance(d[key], kind) or (kind is int and isinstance(d[key], bool)):
        raise PackageError(f"manifest: {where}{key} has the wrong type ({type(d[key]).__name__})")
    return d[key]


def _check_tensor_spec(t, where: str) -> None:
    if not isinstance(t, dict):
        raise PackageError(f"manifest: {where} must be an object")
    _require(t, "name", str, where + ".")
    shape = _require(t, "shape", list, where + ".")
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise PackageError(f"manifest: {where}.shape {shape} must be a non-empty list of positive ints")
    dtype = _require(t, "dtype", str, where + ".")
    try:
        np.dtype(dtype)
    except TypeError:
        raise PackageError(f"manifest: {where}.dtype {dtype!r} is not a dtype") from None
    scale = _require(t, "scale", (int, float), where + ".")
    if scale < 0:
        raise PackageError(f"manifest: {where}.scale must be >= 0")
    _require(t, "zero_point", int, where + ".")


def _check_manifest(m) -> None:
    if not isinstance(m, dict):
        raise PackageError("manifest: not a JSON object")
    fmt = _require(m, "format", str, "")
    if fmt != FORMAT:
        raise PackageError(f"manifest: unsupported format {fmt!r} (expected {FORMAT!r})")
    check_name_version(_require(m, "name", str, ""), _require(m, "version", str, ""))
    model = _require(m, "model", dict, "")
    sha = _require(model, "sha256", str, "model.")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise PackageError("manifest: model.sha256 is not 64 lowercase hex digits")
    _require(model, "size", int, "model.")
    for key in ("inputs", "outputs"):
        specs = _require(m, key, list, "")
        if not specs:
            raise PackageError(f"manifest: {key} is empty")
        for i, t in enumerate(specs):
            _check_tensor_spec(t, f"{key}[{i}]")
    labels = m.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise PackageError("manifest: labels must be a list of strings")
    if "sample" in m:
        s = _require(m, "sample", dict, "")
        inp = _require(s, "input", dict, "sample.")
        exp = _require(s, "expected_output", dict, "sample.")
        tol = s.get("tolerance", 0)
        if not isinstance(tol, int) or isinstance(tol, bool) or tol < 0:
            raise PackageError("manifest: sample.tolerance must be an int >= 0")
        in_names = {t["name"] for t in m["inputs"]}
        out_names = {t["name"] for t in m["outputs"]}
        if set(inp) != in_names:
            raise PackageError(f"manifest: sample.input has {sorted(inp)}, the inputs are {sorted(in_names)}")
        if not set(exp) or not set(exp) <= out_names:
            raise PackageError(f"manifest: sample.expected_output has {sorted(exp)}, the outputs are {sorted(out_names)}")
        for k, v in inp.items():
            decode_array(v, f"sample.input[{k!r}]")
        for k, v in exp.items():
            decode_array(v, f"sample.expected_output[{k!r}]")


def read_package(blob: bytes, trusted_keys: list) -> Package:
    """Parse and fully verify a package against trusted public keys. Raises PackageError."""
    members = _members(blob)
    manifest_bytes, model_bytes, sig = members[MANIFEST_NAME], members[MODEL_NAME], members[SIGNATURE_NAME]
    if not trusted_keys:
        raise PackageError("no trusted keys configured: cannot verify the package signature")
    if len(sig) != 64:
        raise PackageError(f"package signature has {len(sig)} bytes, an ed25519 signature has 64")
    _, _, InvalidSignature = _crypto()
    signer = None
    for key in trusted_keys:
        try:
            key.verify(sig, manifest_bytes)
            signer = key
            break
        except InvalidSignature:
            continue
    if signer is None:
        raise PackageError("package signature does not verify with any trusted key "
                           "(tampered manifest or unknown signing key)")
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise PackageError(f"manifest.json is not valid JSON: {e}") from None
    _check_manifest(manifest)
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != manifest["model"]["sha256"] or len(model_bytes) != manifest["model"]["size"]:
        raise PackageError(f"model.tflite sha256 {digest[:16]}... does not match the manifest "
                           f"({manifest['model']['sha256'][:16]}...): corrupt or tampered model")
    return Package(manifest, model_bytes, key_id(signer), package_id(bytes(blob)), bytes(blob))


# -- checks against the loaded model -----------------------------------------------------------------
def check_model_io(manifest: dict, model) -> None:
    """Raise PackageError when the manifest's input/output spec differs from the model's."""
    for key in ("inputs", "outputs"):
        real = io_spec(getattr(model, key))
        declared = manifest[key]
        if len(real) != len(declared):
            raise PackageError(f"manifest declares {len(declared)} {key}, the model has {len(real)}")
        for i, (d, r) in enumerate(zip(declared, real)):
            where = f"{key[:-1]} {i} ({d['name'] or r['name']!r})"
            if list(d["shape"]) != r["shape"]:
                raise PackageError(f"{where}: manifest shape {d['shape']} != model shape {r['shape']}")
            if d["dtype"] != r["dtype"]:
                raise PackageError(f"{where}: manifest dtype {d['dtype']} != model dtype {r['dtype']}")
            if d["zero_point"] != r["zero_point"] or not np.isclose(d["scale"], r["scale"], rtol=1e-6, atol=0):
                raise PackageError(f"{where}: manifest quantization (scale {d['scale']}, zero point "
                                   f"{d['zero_point']}) != model ({r['scale']}, {r['zero_point']})")


def run_smoke_test(manifest: dict, model) -> None:
    """Run the sample input; raise SmokeTestError unless every expected output matches."""
    sample = manifest.get("sample")
    if sample is None:
        return
    inputs = {k: decode_array(v) for k, v in sample["input"].items()}
    expected = {k: decode_array(v) for k, v in sample["expected_output"].items()}
    try:
        result = model.infer(_as_model_inputs(manifest["inputs"], inputs))
    except EmberError as e:
        raise SmokeTestError(f"smoke test: inference failed: {e}") from None
    got = _outputs_by_name(result, [t["name"] for t in manifest["outputs"]])
    tol = int(sample.get("tolerance", 0))
    for name, want in expected.items():
        if name not in got:
            raise SmokeTestError(f"smoke test: the model produced no output {name!r}")
        have = np.asarray(got[name])
        if have.shape != want.shape:
            raise SmokeTestError(f"smoke test: output {name!r} has shape {list(have.shape)}, expected {list(want.shape)}")
        diff = np.abs(have.astype(np.float64) - want.astype(np.float64))
        if diff.size and diff.max() > tol:
            n = int((diff > tol).sum())
            raise SmokeTestError(f"smoke test: output {name!r} differs from the expected output in {n} "
                                 f"of {diff.size} values (max |diff| {diff.max():g}, tolerance {tol})")
