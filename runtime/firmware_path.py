"""Where the MicroPython node firmware lives, in a checkout or an installed wheel.

Canonical sources are ``firmware/`` at the repository root; the wheel ships a
copy as ``runtime/firmware/`` (setup.py's build_py step). ``EMBER_FIRMWARE_DIR``
overrides both.

    firmware_dir()  -> .../firmware       (host_node.py, manifest.py, src/, fakes/)
    source_dir()    -> .../firmware/src   (the node application: filters, link, node, ...)
    fakes_dir()     -> .../firmware/fakes (host stand-ins for machine, I2C devices)

For CPython use (``ember demo``): ``sys.path[:0] = [str(source_dir()), str(fakes_dir())]``
then ``from node import Node`` etc.; see the docstring of ``firmware/src/node.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

from runtime.errors import EmberError


class FirmwareNotFound(EmberError, FileNotFoundError):
    """The firmware sources are not where a checkout or a wheel keeps them."""


def _candidates(package_dir: Path | None = None):
    env = os.environ.get("EMBER_FIRMWARE_DIR")
    if env:
        yield Path(env)
    here = package_dir or Path(__file__).resolve().parent
    yield here / "firmware"  # installed wheel
    yield here.parent / "firmware"  # source checkout


def firmware_dir(package_dir: Path | None = None) -> Path:
    """``package_dir`` (the directory of the ``runtime`` package) is for tests."""
    for c in _candidates(package_dir):
        if (c / "src" / "node.py").is_file():
            return c
    raise FirmwareNotFound("MicroPython firmware sources not found (looked in: %s); set EMBER_FIRMWARE_DIR"
                           % ", ".join(str(c) for c in _candidates(package_dir)))


def source_dir() -> Path:
    return firmware_dir() / "src"


def fakes_dir() -> Path:
    return firmware_dir() / "fakes"
