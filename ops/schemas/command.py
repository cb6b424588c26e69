"""`framepipe schemas`: writes the generated contract documents (AsyncAPI, one JSON Schema per event type, the
HTML page) to a directory, checks a directory against them, and freezes payload schemas as the baselines the
compatibility test holds each version to."""

from __future__ import annotations

import argparse
from pathlib import Path

from ops.command import Subparsers
from ops.schemas.documents import differences, export, freeze


def _run_export(args: argparse.Namespace) -> int:
    result = export(args.directory)
    for path in result.written:
        print(f"wrote   {path}")
    for path in result.removed:
        print(f"removed {path}")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    problems = differences(args.directory)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.directory} is out of date: run `framepipe schemas export {args.directory}`")
        return 1
    print(f"{args.directory} is up to date")
    return 0


def _run_freeze(args: argparse.Namespace) -> int:
    written = freeze(args.directory)
    for path in written:
        print(f"froze   {path}")
    if not written:
        print("every registered type already has a baseline")
    return 0


def _run_package(args: argparse.Namespace) -> int:
    from ops.schemas.package import build_wheel

    print(f"built   {build_wheel(args.directory)}")
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("schemas", help="generate and check the event contract documents")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    for name, handler, help_text in (
        ("export", _run_export, "write AsyncAPI (JSON, YAML), one JSON Schema per event type and index.html"),
        ("check", _run_check, "exit 1 if DIR differs from what export would write"),
        ("freeze", _run_freeze, "write the payload schema of types without a compatibility baseline in DIR"),
        ("package", _run_package, "build the framepipe-contracts wheel (models and JSON Schemas) into DIR"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("directory", type=Path, metavar="DIR")
        action.set_defaults(handler=handler)
