"""The generated contract documents as files: AsyncAPI (JSON and YAML), one JSON Schema per event type and the
HTML page, rendered deterministically so a committed copy can be checked for drift; written to a directory,
compared with one, and the payload schemas frozen as the baselines the compatibility test holds each version to."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.registry import EVENT_TYPES
from ops.schemas.asyncapi import asyncapi_document
from ops.schemas.json_schemas import event_json_schema, payload_json_schema
from ops.schemas.page import html_document

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
