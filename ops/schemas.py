"""`framepipe schemas`: writes the generated contract documents (AsyncAPI, one JSON Schema per event type, the
HTML page) to a directory, checks a directory against them, and freezes payload schemas as the baselines the
compatibility test holds each version to."""

from __future__ import annotations

import argparse
import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from contracts.registry import EVENT_TYPES
from contracts.schema import asyncapi_document, event_json_schema, html_document, payload_json_schema

if TYPE_CHECKING:
    from ops.cli import Subparsers

SCHEMAS_DIR = "schemas"


class _NoAliasDumper(yaml.SafeDumper):
    """Repeated sub-documents are written out in full: anchors would make the YAML depend on object identity."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def render_yaml(value: Any) -> bytes:
    text = yaml.dump(value, Dumper=_NoAliasDumper, sort_keys=True, allow_unicode=True, width=120)
    return text.encode()


def generate() -> dict[str, bytes]:
    """Every generated file, by path relative to the output directory."""
    document = asyncapi_document()
    files = {
        "asyncapi.json": render_json(document),
        "asyncapi.yaml": render_yaml(document),
        "index.html": html_document().encode(),
    }
    for event_type in EVENT_TYPES:
        files[f"{SCHEMAS_DIR}/{event_type}.json"] = render_json(event_json_schema(event_type))
    return files


def _stale(directory: Path, files: dict[str, bytes]) -> list[Path]:
    """Schema files of types that are no longer registered."""
    candidates = (directory / SCHEMAS_DIR).glob("*.json")
    return sorted(path for path in candidates if path.relative_to(directory).as_posix() not in files)


@dataclass(frozen=True)
class Export:
    written: list[Path]
    removed: list[Path]


def export(directory: Path) -> Export:
    files = generate()
    written = []
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    removed = _stale(directory, files)
    for path in removed:
        path.unlink()
    return Export(written, removed)


def _line_changes(old: bytes, new: bytes) -> str:
    diff = difflib.unified_diff(old.decode(errors="replace").splitlines(), new.decode().splitlines(), n=0)
    lines = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    added = sum(line.startswith("+") for line in lines)
    return f"+{added} -{len(lines) - added} lines"


def differences(directory: Path) -> list[str]:
    """What differs between the directory and a fresh export, one line per file; empty when up to date."""
    files = generate()
    problems = []
    for relative, content in files.items():
        path = directory / relative
        if not path.is_file():
            problems.append(f"missing  {relative}")
        elif (current := path.read_bytes()) != content:
            problems.append(f"changed  {relative} ({_line_changes(current, content)})")
    problems += [f"stale    {path.relative_to(directory).as_posix()}" for path in _stale(directory, files)]
    return problems


def freeze(directory: Path) -> list[Path]:
    """Write the payload schema of each registered type that has no baseline yet; existing ones are never touched."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in EVENT_TYPES:
        path = directory / f"{event_type}.json"
        if not path.exists():
            path.write_bytes(render_json(payload_json_schema(event_type)))
            written.append(path)
    return written


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
    from ops.contracts_package import build_wheel

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
