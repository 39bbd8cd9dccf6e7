"""The shipped service definitions are well formed: the Greengrass V2 recipe parses and runs
`ember core`, the systemd unit passes `systemd-analyze verify`."""
import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_greengrass_recipe():
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(REPO, "deploy", "greengrass", "recipe.yaml")) as f:
        r = yaml.safe_load(f)
    assert r["RecipeFormatVersion"] == "2020-01-25"
    for key in ("ComponentName", "ComponentVersion", "ComponentDescription", "ComponentPublisher"):
        assert isinstance(r[key], str) and r[key]
    defaults = r["ComponentConfiguration"]["DefaultConfiguration"]
    linux = [m for m in r["Manifests"] if m["Platform"]["os"] == "linux"]
    assert linux
    life = linux[0]["Lifecycle"]
    assert "ember core --config" in life["Run"]["Script"]
    assert life["Run"]["RequiresPrivilege"] is False
    # every {configuration:/key} used in a script has a default
    import re
    scripts = life["Install"]["Script"] + life["Run"]["Script"]
    for key in re.findall(r"\{configuration:/(\w+)\}", scripts):
        assert key in defaults, key
    assert all(a["URI"].startswith("s3://") for a in linux[0]["Artifacts"])


def test_systemd_unit_verifies(tmp_path):
    path = os.path.join(REPO, "deploy", "systemd", "ember-core.service")
    text = open(path).read()
    assert "ExecStart=/usr/local/bin/ember core --config /etc/ember/core.toml" in text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not found")
    # Verify everything but the binary, which is not installed here.
    unit = tmp_path / "ember-core.service"
    unit.write_text(text.replace("/usr/local/bin/ember core --config /etc/ember/core.toml", "/bin/sleep 1"))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if "ember-core.service" in line and "sleep" not in line]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr
