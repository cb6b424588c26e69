"""The `framepipe` command: one argparse parser whose subcommands come from command modules.

A command module exposes `register(subparsers)`, adds its parser(s) there and sets `handler` (a function of the
parsed arguments returning the exit code) with `set_defaults`. Adding a command is one import and one entry
in COMMANDS."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol, TypeAlias

from ops import client, completion, dev_command, dlq, events, replay, schemas
from ops.version import version_text

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandModule(Protocol):
    def register(self, subparsers: Subparsers) -> None: ...


COMMANDS: list[CommandModule] = [
    schemas,
    dev_command,
    client,
    events,
    replay,
    dlq,
    completion,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framepipe", description="framepipe operator and developer tooling.")
    parser.add_argument("--version", action="version", version=version_text())
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
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
