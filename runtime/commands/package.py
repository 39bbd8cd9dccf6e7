"""`ember keygen | package | deploy`: implemented in runtime/core/package_cli.py."""


def register(sub) -> None:
    from ..core import package_cli

    package_cli.add_commands(sub)
