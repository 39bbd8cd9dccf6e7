"""Subcommands of `ember`: one module per command, each with register(subparsers).
See runtime/cli.py for the pattern."""
