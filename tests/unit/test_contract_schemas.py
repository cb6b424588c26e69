"""The event contract's generated documents and its compatibility rule.

The committed docs/events/ is exactly what the models generate; every frozen v1 payload schema has only gained
optional fields; every registered type has an example that survives the wire; the HTML page is self-contained;
the AsyncAPI document covers every type."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts.envelope import amqp_headers, decode, encode
from contracts.events import EXTENSIBLE_ENUM
from contracts.examples import example, example_envelope
from contracts.registry import EVENT_TYPES, producers_of
from ops.cli import main
from ops.schemas.asyncapi import asyncapi_document
from ops.schemas.changelog import CHANGELOG
from ops.schemas.documents import export
from ops.schemas.json_schemas import event_json_schema, headers_json_schema, payload_json_schema
from ops.schemas.page import html_document

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "events"
BASELINE = REPO / "tests" / "contract_baseline"
BASELINE_TYPES = sorted(path.stem for path in BASELINE.glob("*.json"))

ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", EXTENSIBLE_ENUM})


def inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every `$ref` replaced by its target, so renaming a nested model is not a change."""
    if isinstance(node, list):
        return [inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        return inline_refs({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    return {key: inline_refs(value, defs) for key, value in node.items() if key != "$defs"}


def breaking_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Every difference between two (inlined) schemas except added optional properties and annotations."""
    if isinstance(old, dict) and isinstance(new, dict):
        return _object_changes(old, new, path)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = enumerate(zip(old, new, strict=True))
        return [problem for i, (was, now) in pairs for problem in breaking_changes(was, now, f"{path}/{i}")]
    return [] if old == new else [f"{path or '/'}: {old!r} became {new!r}"]


def _object_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    for key in sorted((old.keys() | new.keys()) - ANNOTATIONS):
        where = f"{path}/{key}"
        if key == "properties":
            problems += _property_changes(old.get(key, {}), new.get(key, {}), where)
        elif key == "required":
            was, now = set(old.get(key, ())), set(new.get(key, ()))
            problems += [f"{where}: {name} became required" for name in sorted(now - was)]
            problems += [f"{where}: {name} is no longer required" for name in sorted(was - now)]
        elif key == "enum" and new.get(EXTENSIBLE_ENUM) and set(old.get(key, ())) <= set(new[key]):
            continue  # an extensible enum gained values
        elif key not in new:
            problems.append(f"{where}: removed")
        elif key not in old:
            problems.append(f"{where}: added {new[key]!r}")
        else:
            problems += breaking_changes(old[key], new[key], where)
    return problems


def _property_changes(old: dict[str, Any], new: dict[str, Any], path: str) -> list[str]:
    problems = [f"{path}/{name}: removed" for name in sorted(old.keys() - new.keys())]
    for name in sorted(old.keys() & new.keys()):
        problems += breaking_changes(old[name], new[name], f"{path}/{name}")
    return problems


def compatibility_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return breaking_changes(inline_refs(old, old.get("$defs", {})), inline_refs(new, new.get("$defs", {})))


def read_tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


# (a) drift


def test_committed_docs_are_exactly_what_export_generates(tmp_path: Path) -> None:
    export(tmp_path)
    generated, committed = read_tree(tmp_path), read_tree(DOCS)
    differing = sorted(
        name for name in generated.keys() | committed.keys() if generated.get(name) != committed.get(name)
    )
    assert not differing, f"docs/events is stale ({differing}): run `framepipe schemas export docs/events`"


def test_check_passes_on_the_committed_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "check", str(DOCS)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_reports_changed_missing_and_stale_files_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(tmp_path)
    (tmp_path / "asyncapi.json").write_text("{}\n")
    (tmp_path / "index.html").unlink()
    (tmp_path / "schemas" / "video.renamed.v1.json").write_text("{}\n")

    assert main(["schemas", "check", str(tmp_path)]) == 1

    out = capsys.readouterr().out
    assert "changed  asyncapi.json" in out
    assert "missing  index.html" in out
    assert "stale    schemas/video.renamed.v1.json" in out


def test_export_removes_schemas_of_types_that_are_no_longer_registered(tmp_path: Path) -> None:
    stale = tmp_path / "schemas" / "video.renamed.v1.json"
    stale.parent.mkdir()
    stale.write_text("{}\n")

    assert main(["schemas", "export", str(tmp_path)]) == 0

    assert not stale.exists()
    assert sorted(p.stem for p in (tmp_path / "schemas").glob("*.json")) == sorted(EVENT_TYPES)


def test_freeze_writes_missing_baselines_and_never_overwrites_one(tmp_path: Path) -> None:
    kept = tmp_path / "video.uploaded.v1.json"
    kept.write_text('{"frozen": true}\n')

    assert main(["schemas", "freeze", str(tmp_path)]) == 0

    assert kept.read_text() == '{"frozen": true}\n'
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(EVENT_TYPES)


# (b) compatibility


def test_every_registered_type_has_a_frozen_baseline() -> None:
    missing = sorted(set(EVENT_TYPES) - set(BASELINE_TYPES))
    assert not missing, f"freeze new types with `framepipe schemas freeze tests/contract_baseline`: {missing}"


@pytest.mark.parametrize("event_type", BASELINE_TYPES)
def test_frozen_payload_schema_has_only_gained_optional_fields(event_type: str) -> None:
    assert event_type in EVENT_TYPES, f"{event_type} disappeared: publish it until its deprecation window ends"
    baseline = json.loads((BASELINE / f"{event_type}.json").read_text())
    assert compatibility_problems(baseline, payload_json_schema(event_type)) == []


SAMPLE: dict[str, Any] = {
    "$defs": {"Kind": {"enum": ["processed", "failed"], "title": "Kind", "type": "string"}},
    "properties": {
        "video_id": {"format": "uuid", "title": "Video Id", "type": "string"},
        "kind": {"$ref": "#/$defs/Kind"},
        "size_bytes": {"minimum": 0, "title": "Size Bytes", "type": "integer"},
    },
    "required": ["video_id", "kind"],
    "title": "Sample",
    "type": "object",
}


def changed(edit: Any) -> list[str]:
    new = copy.deepcopy(SAMPLE)
    edit(new)
    return compatibility_problems(SAMPLE, new)


def test_an_added_optional_field_is_compatible() -> None:
    assert changed(lambda s: s["properties"].update(note={"type": "string"})) == []


def test_new_descriptions_and_a_renamed_nested_model_are_compatible() -> None:
    def edit(schema: dict[str, Any]) -> None:
        schema["$defs"] = {"OutcomeKind": {**schema["$defs"]["Kind"], "title": "OutcomeKind"}}
        schema["properties"]["kind"] = {"$ref": "#/$defs/OutcomeKind", "description": "What happened."}

    assert changed(edit) == []


def test_a_removed_field_is_breaking() -> None:
    assert changed(lambda s: s["properties"].pop("size_bytes")) == ["/properties/size_bytes: removed"]


def test_a_new_required_field_is_breaking() -> None:
    def edit(schema: dict[str, Any]) -> None:
        schema["properties"]["attempts"] = {"type": "integer"}
        schema["required"].append("attempts")

    assert changed(edit) == ["/required: attempts became required"]


def test_an_existing_field_becoming_required_is_breaking() -> None:
    assert changed(lambda s: s["required"].append("size_bytes")) == ["/required: size_bytes became required"]


def test_a_changed_type_is_breaking() -> None:
    assert changed(lambda s: s["properties"]["size_bytes"].update(type="number")) == [
        "/properties/size_bytes/type: 'integer' became 'number'"
    ]


def test_a_narrowed_enum_is_breaking() -> None:
    assert changed(lambda s: s["$defs"]["Kind"].update(enum=["processed"])) == [
        "/properties/kind/enum: ['processed', 'failed'] became ['processed']"
    ]


def test_a_widened_enum_is_breaking_unless_it_is_marked_extensible() -> None:
    widened = ["processed", "failed", "cancelled"]
    assert changed(lambda s: s["$defs"]["Kind"].update(enum=widened)) == [
        "/properties/kind/enum: ['processed', 'failed'] became ['processed', 'failed', 'cancelled']"
    ]
    assert changed(lambda s: s["$defs"]["Kind"].update({"enum": widened, EXTENSIBLE_ENUM: True})) == []
    narrowed = ["processed", "cancelled"]
    assert changed(lambda s: s["$defs"]["Kind"].update({"enum": narrowed, EXTENSIBLE_ENUM: True})) != []


def test_a_new_or_tightened_constraint_is_breaking() -> None:
    def edit(schema: dict[str, Any]) -> None:
        schema["properties"]["video_id"]["maxLength"] = 36
        schema["properties"]["size_bytes"]["minimum"] = 1

    assert changed(edit) == [
        "/properties/size_bytes/minimum: 0 became 1",
        "/properties/video_id/maxLength: added 36",
    ]


# (c) examples


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_example_envelope_round_trips_through_the_wire_format(event_type: str) -> None:
    envelope = example_envelope(event_type)

    decoded = decode(encode(envelope))

    assert decoded.model_dump() == envelope.model_dump()
    assert decoded.data == example(EVENT_TYPES[event_type])
    assert decoded.subject == envelope.data.subject()


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_example_is_valid_against_the_published_json_schema(event_type: str) -> None:
    schema = event_json_schema(event_type)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for body in schema["examples"]:
        validator.validate(body)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_the_headers_the_publisher_sets_match_the_documented_header_schema(event_type: str) -> None:
    validator = Draft202012Validator(
        headers_json_schema(event_type), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(amqp_headers(example_envelope(event_type)))


def test_every_registered_type_has_a_producer_and_a_changelog_entry() -> None:
    released = {t for release in CHANGELOG for t in release.types}
    assert [t for t in EVENT_TYPES if not producers_of(t) or t not in released] == []


# (d) HTML


def test_html_page_loads_no_remote_assets() -> None:
    tags = re.findall(r"<(?:link|script|img)\b[^>]*>", html_document(), flags=re.IGNORECASE)
    assert [tag for tag in tags if re.search(r"https?://", tag)] == []


def test_html_page_documents_every_event_type() -> None:
    page = html_document()
    assert [t for t in EVENT_TYPES if f'<section id="{t}">' not in page] == []


# (e) AsyncAPI


def test_asyncapi_document_has_a_channel_and_a_message_per_event_type() -> None:
    document = asyncapi_document()

    assert document["asyncapi"] == "3.0.0"
    assert {t: document["channels"][t]["address"] for t in EVENT_TYPES} == {t: t for t in EVENT_TYPES}
    assert set(EVENT_TYPES) <= set(document["components"]["messages"])


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = asyncapi_document()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for value in node.values() for r in refs(value)]
        return [r for value in node for r in refs(value)] if isinstance(node, list) else []

    def resolves(ref: str) -> bool:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    assert [ref for ref in refs(document) if not resolves(ref)] == []
