"""The `framepipe` command: one argparse parser whose subcommands come from command modules.

A command module exposes `register(subparsers)` (ops/command.py), adds its parser(s) there and sets `handler` (a
function of the parsed arguments returning the exit code) with `set_defaults`. Adding a command is one import and
one entry in COMMANDS. `completion` comes last: it completes the whole parser, so it is handed that parser."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ops import completion
from ops.bus import dlq, events, replay
from ops.client import command as client
from ops.command import CommandModule
from ops.dev import command as dev
from ops.schemas import command as schemas
from ops.version import version_text

COMMANDS: list[CommandModule] = [
    schemas,
    dev,
    client,
    events,
    replay,
    dlq,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framepipe", description="framepipe operator and developer tooling.")
    parser.add_argument("--version", action="version", version=version_text())
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    completion.register(subparsers, parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
