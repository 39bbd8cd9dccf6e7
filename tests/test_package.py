"""Signed model packages: build/read round trip and every rejection reason."""
import io
import json
import os
import stat
import tarfile

import numpy as np
import pytest

from runtime.core.package import (PackageError, SmokeTestError, _archive, build_package,
                                  check_model_io, generate_keypair, key_id, load_private_key,
                                  load_public_key, load_trusted_keys, package_model, read_package,
                                  run_smoke_test, semver_key, write_keypair)
from runtime.errors import EmberError
from tests.deploy_models import fc_model, keys, loader  # noqa: F401 (fixtures)



@pytest.fixture(scope="module")
def pkg_blob(loader, keys):
    return package_model(fc_model(), "fc", "1.0.0", keys[0], loader=loader, labels=["a", "b", "c", "d"])


def _members(blob):
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        return {m.name: t.extractfile(m).read() for m in t}


def test_roundtrip(pkg_blob, keys, loader):
    pkg = read_package(pkg_blob, [keys[1]])
    assert (pkg.name, pkg.version) == ("fc", "1.0.0")
    assert pkg.model_bytes == fc_model()
    assert pkg.key_id == key_id(keys[1])
    assert pkg.manifest["labels"] == ["a", "b", "c", "d"]
    assert pkg.manifest["inputs"][0]["shape"] == [1, 8]
    assert pkg.manifest["outputs"][0]["dtype"] == "int8"
    assert set(_members(pkg_blob)) == {"manifest.json", "model.tflite", "signature"}
    model = loader(pkg.model_bytes)
    check_model_io(pkg.manifest, model)
    run_smoke_test(pkg.manifest, model)


def test_keygen_files(tmp_path):
    priv, pub = write_keypair(str(tmp_path / "k" / "release"))
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    load_private_key(priv)
    assert len(load_trusted_keys([pub, str(tmp_path / "k")])) == 2
    with pytest.raises(PackageError, match="already exists"):
        write_keypair(priv)
    with pytest.raises(PackageError, match="cannot read key"):
        load_private_key(str(tmp_path / "missing"))
    with pytest.raises(PackageError, match="PEM"):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n")


def test_non_ed25519_key_rejected():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    k = ec.generate_private_key(ec.SECP256R1())
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    with pytest.raises(PackageError, match="ed25519"):
        load_private_key(pem)


@pytest.mark.parametrize("member", ["model.tflite", "manifest.json", "signature"])
def test_tampered_byte_rejected(pkg_blob, keys, member):
    m = _members(pkg_blob)
    data = bytearray(m[member])
    data[len(data) // 2] ^= 0x01
    m[member] = bytes(data)
    bad = _archive(m["manifest.json"], m["model.tflite"], m["signature"])
    with pytest.raises(PackageError) as e:
        read_package(bad, [keys[1]])
    expected = "sha256" if member == "model.tflite" else "signature does not verify"
    assert expected in str(e.value)


def test_tampered_archive_bytes_rejected(pkg_blob, keys):
    # Flip one byte anywhere in the data area of each member: never accepted.
    rng = np.random.default_rng(1)
    for pos in rng.integers(512, len(pkg_blob) - 1024, size=20):
        bad = bytearray(pkg_blob)
        bad[pos] ^= 0x40
        try:
            pkg = read_package(bytes(bad), [keys[1]])
        except PackageError:
            continue
        # Only padding bytes of the tar format may change without effect.
        assert pkg.model_bytes == fc_model() and pkg.manifest == read_package(pkg_blob, [keys[1]]).manifest


def test_wrong_key_rejected(pkg_blob):
    _, other_pub = generate_keypair()
    with pytest.raises(PackageError, match="does not verify with any trusted key"):
        read_package(pkg_blob, [load_public_key(other_pub)])
    with pytest.raises(PackageError, match="no trusted keys"):
        read_package(pkg_blob, [])


def test_unsigned_and_structural_errors(pkg_blob, keys):
    m = _members(pkg_blob)
    with pytest.raises(PackageError, match="unsigned"):
        read_package(_archive(m["manifest.json"], m["model.tflite"], None), [keys[1]])
    with pytest.raises(PackageError, match="not a tar|truncated"):
        read_package(b"definitely not a package" * 40, [keys[1]])
    with pytest.raises(PackageError, match="truncated"):
        read_package(pkg_blob[:100], [keys[1]])
    cut = pkg_blob.index(fc_model()) + 100        # in the middle of the model's data
    with pytest.raises(PackageError, match="truncated|corrupt"):
        read_package(pkg_blob[:cut], [keys[1]])
    with pytest.raises(PackageError, match="bytes"):
        read_package("a string", [keys[1]])
    # extra / traversal member
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in list(m.items()) + [("../../etc/passwd", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(PackageError, match="unexpected member"):
        read_package(buf.getvalue(), [keys[1]])
    # symlink instead of a file
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in m.items():
            info = tarfile.TarInfo(name)
            if name == "model.tflite":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    with pytest.raises(PackageError, match="not a regular file"):
        read_package(buf.getvalue(), [keys[1]])


def _resign(manifest: dict, model: bytes, key) -> bytes:
    mb = json.dumps(manifest).encode()
    return _archive(mb, model, key.sign(mb))


def test_bad_semver_and_names(pkg_blob, keys, loader):
    for v in ["1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0.0", "", "latest"]:
        with pytest.raises(PackageError, match="semantic version"):
            package_model(fc_model(), "fc", v, keys[0], loader=loader)
    for n in ["", "../x", "a b", "-x", "x" * 65]:
        with pytest.raises(PackageError, match="invalid model name"):
            package_model(fc_model(), n, "1.0.0", keys[0], loader=loader)
    # A correctly signed manifest with a bad version is still rejected.
    m = json.loads(_members(pkg_blob)["manifest.json"])
    m["version"] = "1.0"
    with pytest.raises(PackageError, match="semantic version"):
        read_package(_resign(m, fc_model(), keys[0]), [keys[1]])
    assert sorted(["1.0.0", "1.0.0-rc.1", "0.9.9", "1.0.0-alpha", "1.10.0", "1.2.0"], key=semver_key) == \
        ["0.9.9", "1.0.0-alpha", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0"]


def test_manifest_schema_errors_are_named(pkg_blob, keys):
    base = json.loads(_members(pkg_blob)["manifest.json"])
    cases = [
        (lambda m: m.pop("inputs"), "inputs is missing"),
        (lambda m: m["outputs"][0].__setitem__("shape", [1, -4]), "positive ints"),
        (lambda m: m["inputs"][0].__setitem__("dtype", "notatype"), "not a dtype"),
        (lambda m: m.__setitem__("format", "other/9"), "unsupported format"),
        (lambda m: m["model"].__setitem__("sha256", "xyz"), "sha256"),
        (lambda m: m.__setitem__("labels", [1, 2]), "labels"),
        (lambda m: m["sample"]["input"].pop("input"), "sample.input"),
    ]
    for mutate, reason in cases:
        m = json.loads(json.dumps(base))
        mutate(m)
        with pytest.raises(PackageError, match=reason):
            read_package(_resign(m, fc_model(), keys[0]), [keys[1]])
    with pytest.raises(PackageError, match="not valid JSON"):
        mb = b"{not json"
        read_package(_archive(mb, fc_model(), keys[0].sign(mb)), [keys[1]])


def test_manifest_vs_model_shape(pkg_blob, keys, loader):
    pkg = read_package(pkg_blob, [keys[1]])
    with pytest.raises(PackageError, match=r"shape \[1, 8\] != model shape \[1, 6\]"):
        check_model_io(pkg.manifest, loader(fc_model(in_features=6)))
    with pytest.raises(PackageError, match="quantization"):
        check_model_io(pkg.manifest, loader(fc_model(out_zero_point=5)))
    # A package whose manifest lies about the model's shape: signed, sha256 fine, shape wrong.
    m = json.loads(json.dumps(pkg.manifest))
    m["inputs"][0]["shape"] = [1, 10]
    bad = read_package(_resign(m, fc_model(), keys[0]), [keys[1]])
    with pytest.raises(PackageError, match="shape"):
        check_model_io(bad.manifest, loader(bad.model_bytes))


def test_smoke_mismatch(pkg_blob, keys, loader):
    pkg = read_package(pkg_blob, [keys[1]])
    model = loader(pkg.model_bytes)
    # The same manifest against a different model with the same I/O: outputs differ.
    other = loader(fc_model(seed=7))
    check_model_io(pkg.manifest, other)
    with pytest.raises(SmokeTestError, match="differs from the expected output"):
        run_smoke_test(pkg.manifest, other)
    run_smoke_test(pkg.manifest, model)
    assert issubclass(SmokeTestError, EmberError)


def test_sample_input_checked(keys, loader):
    with pytest.raises(PackageError, match="the model wants int8"):
        package_model(fc_model(), "fc", "1.0.0", keys[0], loader=loader,
                      sample_input=np.zeros((1, 9), np.int8))
    blob = package_model(fc_model(), "fc", "1.0.1", keys[0], loader=loader,
                         sample_input=np.arange(8, dtype=np.int8).reshape(1, 8))
    assert read_package(blob, [keys[1]]).version == "1.0.1"
    with pytest.raises(PackageError, match="expected output"):
        build_package(fc_model(), "fc", "1.0.0", keys[0], inputs=[], outputs=[],
                      sample_input={"input": np.zeros(8, np.int8)})
