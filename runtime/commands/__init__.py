"""Subcommands of the ``ember`` CLI that live outside runtime/cli.py. Each
module exposes ``add_commands(subparsers)``; every command sets ``args.func``
and ``args.func(args)`` returns the exit code."""
