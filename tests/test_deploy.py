"""DeploymentManager: verify -> load beside -> smoke test -> atomic switch, rejections keep the
old version serving, rollback (requested and automatic), N versions on disk, restore after a
restart, no dropped request during switches; and `ember deploy` over a real Mosquitto."""
import json
import os
import threading

import numpy as np
import pytest

from runtime.core import package_cli
from runtime.core.deploy import (DeployAgent, DeployError, DeploymentManager, ModelRegistry,
                                 deploy_package, request_rollback)
from runtime.core.package import (_archive, generate_keypair, load_private_key, load_public_key,
                                  package_model, read_package)
from tests.deploy_models import fc_model, keys, loader  # noqa: F401 (fixtures)
from tests.mqtt_broker import mqtt_broker  # noqa: F401



@pytest.fixture(scope="module")
def packages(keys, loader):
    """fc versions 1.0.0..1.3.0 (different weights, same I/O)."""
    return {f"1.{i}.0": package_model(fc_model(seed=i), "fc", f"1.{i}.0", keys[0], loader=loader)
            for i in range(4)}


@pytest.fixture
def mgr(tmp_path, keys, loader):
    published = []
    m = DeploymentManager(ModelRegistry(), str(tmp_path / "store"), [keys[1]], loader=loader,
                          keep=3, core_id="c1", publish=lambda t, p: published.append((t, json.loads(p))))
    m.published = published
    return m


X = np.arange(-4, 4, dtype=np.int8).reshape(1, 8)


def _expected(seed, loader):
    return loader(fc_model(seed=seed)).infer(X)


def test_deploy_switches_and_publishes(mgr, packages, loader):
    st = mgr.handle_message(packages["1.0.0"])
    assert st["state"] == "active" and st["version"] == "1.0.0" and st["previous"] == ""
    st = mgr.handle_message(packages["1.1.0"])
    assert (st["state"], st["previous"]) == ("active", "1.0.0")
    mv = mgr.registry.get("fc")
    assert mv.version == "1.1.0"
    np.testing.assert_array_equal(mv.model.infer(X), _expected(1, loader))
    states = [p["state"] for t, p in mgr.published if p["deploy_id"] == st["deploy_id"]]
    assert states == ["received", "verifying", "smoke_test", "active"]
    assert all(t == "ember/cores/c1/deploy/status" for t, _ in mgr.published)
    st = mgr.handle_message(packages["1.1.0"])
    assert st["state"] == "rejected" and "already the active version" in st["reason"]


def _serving(mgr, version):
    mv = mgr.registry.get("fc")
    return mv is not None and mv.version == version


def test_rejections_keep_old_version_serving(mgr, packages, keys, loader, tmp_path):
    mgr.handle_message(packages["1.0.0"])
    m = read_package(packages["1.1.0"], [keys[1]])

    tampered = bytearray(packages["1.1.0"])
    tampered[packages["1.1.0"].index(fc_model(seed=1)) + 50] ^= 1
    _, other_pub = generate_keypair()
    other = DeploymentManager(ModelRegistry(), str(tmp_path / "o"), [load_public_key(other_pub)],
                              loader=loader)
    assert "does not verify" in other.handle_message(packages["1.1.0"])["reason"]

    unsigned = _archive(json.dumps(m.manifest).encode(), m.model_bytes, None)
    wrong_shape = package_model(fc_model(in_features=6), "fc", "1.4.0", keys[0], loader=loader)
    # smoke mismatch: a correctly signed manifest whose expected output is wrong
    man = json.loads(json.dumps(m.manifest))
    man["version"] = "1.5.0"
    man["sample"]["expected_output"] = {"output": {"dtype": "int8", "shape": [1, 4],
                                                   "data": "AAAAAA=="}}
    mb = json.dumps(man).encode()
    smoke_bad = _archive(mb, m.model_bytes, keys[0].sign(mb))
    # manifest lies about the model's quantization
    man2 = json.loads(json.dumps(m.manifest))
    man2["version"] = "1.6.0"
    man2["outputs"][0]["zero_point"] = 7
    mb2 = json.dumps(man2).encode()
    io_lie = _archive(mb2, m.model_bytes, keys[0].sign(mb2))
    # does not load at all (signed garbage model)
    from runtime.core.package import build_package
    garbage = build_package(b"\x00" * 64, "fc", "1.7.0", keys[0], inputs=m.manifest["inputs"],
                            outputs=m.manifest["outputs"])

    cases = [(bytes(tampered), "sha256"), (unsigned, "unsigned"),
             (wrong_shape, "differ from the serving version"),
             (smoke_bad, "smoke test"), (io_lie, "quantization"), (garbage, "does not load"),
             (b"junk", "not a tar"), (b'{"action": "explode", "name": "fc"}', "unknown control")]
    for blob, reason in cases:
        st = mgr.handle_message(blob)
        assert st["state"] == "rejected", (reason, st)
        assert reason in st["reason"], (reason, st["reason"])
        assert mgr.published[-1][1] == st               # the reason is published
        assert _serving(mgr, "1.0.0")
        np.testing.assert_array_equal(mgr.registry.get("fc").model.infer(X), _expected(0, loader))
    assert mgr.stored_versions("fc") == ["1.0.0"]       # rejected versions are not kept
    assert mgr.counters["rejected"] == len(cases)


def test_requested_rollback(mgr, packages):
    assert mgr.rollback("fc")["state"] == "rejected"    # nothing to roll back to
    mgr.handle_message(packages["1.0.0"])
    mgr.handle_message(packages["1.1.0"])
    st = mgr.handle_message(json.dumps({"action": "rollback", "name": "fc"}).encode())
    assert (st["state"], st["version"], st["previous"]) == ("rolled_back", "1.0.0", "1.1.0")
    assert _serving(mgr, "1.0.0")
    assert mgr.rollback("fc")["state"] == "rejected"    # only one step back


def test_automatic_rollback_on_failures(mgr, packages):
    mgr.handle_message(packages["1.0.0"])
    mgr.handle_message(packages["1.1.0"])
    for _ in range(10):
        assert mgr.record_result("fc", "1.1.0", ok=True) is None
    for _ in range(mgr.max_failures - 1):
        assert mgr.record_result("fc", "1.1.0", ok=False) is None
    assert mgr.record_result("fc", "1.0.0", ok=False) is None   # other version: ignored
    st = mgr.record_result("fc", "1.1.0", ok=False)
    assert st["state"] == "rolled_back" and "failed requests" in st["reason"]
    assert _serving(mgr, "1.0.0")
    # Past the watch window failures no longer roll back.
    mgr.handle_message(packages["1.2.0"])
    for _ in range(mgr.watch_requests):
        mgr.record_result("fc", "1.2.0", ok=True)
    for _ in range(mgr.max_failures * 2):
        assert mgr.record_result("fc", "1.2.0", ok=False) is None
    assert _serving(mgr, "1.2.0")


def test_keeps_n_versions_and_restores_after_restart(mgr, packages, keys, loader):
    for v in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]:
        assert mgr.handle_message(packages[v])["state"] == "active"
    assert mgr.stored_versions("fc") == ["1.1.0", "1.2.0", "1.3.0"]
    again = DeploymentManager(ModelRegistry(), mgr.store_dir, [keys[1]], loader=loader)
    assert again.restore() == [("fc", "1.3.0")]
    np.testing.assert_array_equal(again.registry.get("fc").model.infer(X), _expected(3, loader))
    assert again.rollback("fc")["version"] == "1.2.0"   # the previous version is restored too
    # A stored package tampered on disk is not restored.
    path = os.path.join(mgr.store_dir, "fc", "1.2.0", "package.ember")
    data = bytearray(open(path, "rb").read())
    data[data.index(fc_model(seed=2)) + 10] ^= 1
    open(path, "wb").write(bytes(data))
    third = DeploymentManager(ModelRegistry(), mgr.store_dir, [keys[1]], loader=loader)
    assert third.restore() == []
    assert "sha256" in third.restore_errors[0]


def test_no_dropped_request_during_switches(mgr, packages, loader):
    mgr.handle_message(packages["1.0.0"])
    expected = {f"1.{i}.0": _expected(i, loader) for i in range(4)}
    stop = threading.Event()
    results, errors = [], []

    def serve():
        while not stop.is_set():
            mv = mgr.registry.get("fc")             # one read per request
            try:
                results.append((mv.version, mv.model.infer(X)))
            except Exception as e:                   # a dropped request
                errors.append(e)

    t = threading.Thread(target=serve)
    t.start()
    try:
        for v in ["1.1.0", "1.2.0", "1.3.0"]:
            assert mgr.handle_message(packages[v])["state"] == "active"
        mgr.rollback("fc")
    finally:
        stop.set()
        t.join(10)
    assert not errors
    assert len(results) > 0
    for version, out in results:
        np.testing.assert_array_equal(out, expected[version])
    assert mgr.registry.get("fc").version == "1.2.0"


def test_bad_manager_config(tmp_path, keys):
    with pytest.raises(DeployError, match="keep"):
        DeploymentManager(ModelRegistry(), str(tmp_path), [keys[1]], keep=1)


@pytest.mark.mqtt
def test_ember_deploy_over_mqtt(tmp_path, mqtt_broker, keys, loader, capsys):
    keyfile = str(tmp_path / "release")
    assert package_cli.main(["keygen", keyfile]) == 0
    trusted = [load_public_key(keyfile + ".pub")]
    mgr = DeploymentManager(ModelRegistry(), str(tmp_path / "store"), trusted, loader=loader,
                            core_id="core-7")
    model_path = tmp_path / "fc.tflite"
    model_path.write_bytes(fc_model())
    package_cli.LOADER = loader
    try:
        assert package_cli.main(["package", str(model_path), "--name", "fc", "--version", "2.0.0",
                                 "--key", keyfile, "--labels", "a,b,c,d",
                                 "--out", str(tmp_path / "fc.ember")]) == 0
    finally:
        package_cli.LOADER = None
    model_path.write_bytes(fc_model(seed=5))
    agent = DeployAgent(mgr, mqtt_broker.host, mqtt_broker.port).start()
    try:
        broker = f"{mqtt_broker.host}:{mqtt_broker.port}"
        capsys.readouterr()
        rc = package_cli.main(["deploy", str(tmp_path / "fc.ember"), "--to", "core-7",
                               "--broker", broker, "--timeout", "30", "--json"])
        st = json.loads(capsys.readouterr().out)
        assert rc == 0 and st["state"] == "active" and st["version"] == "2.0.0"
        assert mgr.registry.get("fc").labels == ["a", "b", "c", "d"]
        # A package signed with an untrusted key: rejected with the reason, exit code 1.
        other_key = load_private_key(generate_keypair()[0])
        bad = package_model(fc_model(seed=1), "fc", "2.1.0", other_key, loader=loader)
        st = deploy_package(bad, "core-7", mqtt_broker.host, mqtt_broker.port, timeout_s=30)
        assert st["state"] == "rejected" and "trusted key" in st["reason"]
        (tmp_path / "bad.ember").write_bytes(bad)
        assert package_cli.main(["deploy", str(tmp_path / "bad.ember"), "--to", "core-7",
                                 "--broker", broker, "--timeout", "30"]) == 1
        assert "rejected" in capsys.readouterr().out
        assert mgr.registry.get("fc").version == "2.0.0"
        good = package_model(fc_model(seed=1), "fc", "2.1.0", load_private_key(keyfile), loader=loader)
        assert deploy_package(good, "core-7", mqtt_broker.host, mqtt_broker.port)["state"] == "active"
        st = request_rollback("fc", "core-7", mqtt_broker.host, mqtt_broker.port)
        assert (st["state"], st["version"]) == ("rolled_back", "2.0.0")
        # Nobody listening for another core: a clear timeout error.
        with pytest.raises(DeployError, match="no final deployment status"):
            deploy_package(good, "core-none", mqtt_broker.host, mqtt_broker.port, timeout_s=1)
    finally:
        agent.stop()
    assert package_cli.main(["deploy", str(tmp_path / "missing.ember"), "--to", "x"]) == 1
    assert "cannot read package" in capsys.readouterr().err


def test_commands_are_wired_into_ember_cli(tmp_path, capsys):
    from runtime import cli
    key = str(tmp_path / "k")
    assert cli.main(["keygen", key]) == 0
    assert os.path.exists(key) and os.path.exists(key + ".pub")
    assert cli.main(["keygen", key]) == 1                    # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["package", str(tmp_path / "missing.tflite"), "--name", "m", "--version", "1.0.0",
                     "--key", key]) == 1
    assert "cannot read model" in capsys.readouterr().err


def test_real_kws_model_packages_and_deploys(tmp_path, keys):
    """MLPerf Tiny KWS through package -> verify -> load -> smoke test -> switch, with runtime.load."""
    import runtime
    from runtime.errors import UnsupportedOpError
    from tests.real_models import KWS, model_bytes as read_model
    model_bytes = read_model(KWS)
    try:
        runtime.load(model_bytes)
    except UnsupportedOpError as e:
        pytest.skip(f"runtime cannot run KWS yet: {e}")
    labels = [f"w{i}" for i in range(12)]
    blob = package_model(model_bytes, "kws", "1.0.0", keys[0], loader=runtime.load, labels=labels)
    mgr = DeploymentManager(ModelRegistry(), str(tmp_path / "store"), [keys[1]], loader=runtime.load)
    st = mgr.handle_message(blob)
    assert st["state"] == "active", st
    mv = mgr.registry.get("kws")
    assert mv.labels == labels and mv.manifest["inputs"][0]["dtype"] == "int8"
    # A second version built from the same model with a tampered expected output is refused.
    man = json.loads(json.dumps(read_package(blob, [keys[1]]).manifest))
    man["version"] = "1.0.1"
    exp = man["sample"]["expected_output"]
    name = next(iter(exp))
    raw = bytearray(__import__("base64").b64decode(exp[name]["data"]))
    raw[0] = (raw[0] + 1) % 256
    exp[name]["data"] = __import__("base64").b64encode(bytes(raw)).decode()
    mb = json.dumps(man).encode()
    st = mgr.handle_message(_archive(mb, model_bytes, keys[0].sign(mb)))
    assert st["state"] == "rejected" and "smoke test" in st["reason"]
    assert mgr.registry.get("kws").version == "1.0.0"
