"""The contract as one self-contained HTML page for integrators (inline CSS, no scripts, no external assets):
the envelope, the AMQP message, the topology, the versioning rules, every event type with its fields and
examples, and the changelog."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts.envelope import CONTENT_TYPE, Envelope, amqp_headers
from contracts.events import EventData
from contracts.examples import example_envelope
from contracts.registry import EVENT_TYPES, model_for, producers_of
from contracts.topology import (
    ARCHIVE_MAX_AGE,
    ARCHIVE_STREAM,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    QUEUES,
    REVOCATION_TYPES,
    REVOCATIONS_STREAM,
)
from contracts.version import CONTRACT_VERSION
from ops.schemas.changelog import CHANGELOG, VERSIONING_RULES
from ops.schemas.facts import (
    JsonDict,
    consuming_queues,
    dataschema_uri,
    dead_letter_queues,
    example_json,
    subject_field,
)
from ops.schemas.json_schemas import event_json_schema

ENVELOPE_NOTES = {
    "specversion": "CloudEvents version, always 1.0.",
    "id": "The event id. Also the AMQP message_id; consumers deduplicate on it.",
    "source": "The producing service, e.g. framepipe/video_svc.",
    "type": "The versioned event type; also the routing key.",
    "subject": "The aggregate the event is about: a video id or a user id.",
    "time": "When it happened, RFC 3339 in UTC.",
    "datacontenttype": "Always application/json.",
    "dataschema": "URI of the event's JSON Schema (its $id).",
    "correlationid": "Follows one user request across every hop.",
    "causationid": "Id of the event that caused this one; null when an HTTP request did.",
    "traceparent": "CloudEvents distributed-tracing extension: the W3C traceparent of the producing operation "
    "(absent when it was not traced). Consumers continue the trace from it and ignore a value they cannot parse.",
    "tracestate": "The W3C tracestate that goes with traceparent, when there is one.",
    "data": "The typed payload, described per event type below.",
}

AMQP_PROPERTIES = (
    ("exchange", f"{EVENTS_EXCHANGE} (topic, durable)"),
    ("routing key", "the event type"),
    ("content_type", CONTENT_TYPE),
    ("message_id", "the event id"),
    ("type", "the event type"),
    ("correlation_id", "the envelope's correlationid"),
    ("delivery_mode", "2 (persistent)"),
    ("timestamp", "when the message was published"),
    (
        "headers",
        "ce-specversion, ce-type, ce-id, ce-source, ce-subject, ce-time, ce-correlationid, "
        "ce-causationid when the event has a cause, and ce-traceparent / ce-tracestate when it was traced: "
        "filter on them without parsing bodies",
    ),
)

_CONSTRAINTS = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("pattern", "pattern"),
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("const", "="),
    ("enum", "one of"),
    ("default", "default"),
)

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header,main,nav{max-width:64rem;margin:0 auto;padding:0 1.5rem}
header{padding-top:1.5rem}nav{margin-bottom:1rem}nav a{margin-right:.8rem;white-space:nowrap}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.5rem 1.5rem 1rem;margin:1.5rem 0}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:14px}
th,td{border-bottom:1px solid #e4e7ec;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}code,pre{font:13px/1.4 ui-monospace,monospace}
pre{background:#f4f6f8;border:1px solid #e4e7ec;padding:.75rem;overflow-x:auto}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
"""


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    required: bool
    constraints: str
    description: str


def _resolve(prop: JsonDict, defs: JsonDict) -> tuple[JsonDict, bool]:
    """A property with its `$ref` inlined and its `anyOf [T, null]` unwrapped; also whether it is nullable."""
    branches = prop.get("anyOf", [prop])
    nullable = any(branch.get("type") == "null" for branch in branches)
    node: JsonDict = next((branch for branch in branches if branch.get("type") != "null"), {})
    if "$ref" in node:
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    siblings = {k: v for k, v in prop.items() if k not in ("anyOf", "$ref", "title")}
    return {**node, **siblings}, nullable


def _type_label(node: JsonDict, nullable: bool) -> str:
    kind = str(node.get("type", "any"))
    if "format" in node:
        kind = f"{kind} ({node['format']})"
    elif kind == "object" and "title" in node:
        kind = f"object ({node['title']})"
    return f"{kind} | null" if nullable else kind


def _show(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(str(item) for item in value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def field_rows(schema: JsonDict, defs: JsonDict, prefix: str = "") -> list[FieldRow]:
    """One row per property, nested objects flattened into dotted names (`result.sha256`)."""
    required = set(schema.get("required", ()))
    rows: list[FieldRow] = []
    for name, prop in schema.get("properties", {}).items():
        node, nullable = _resolve(prop, defs)
        constraints = "; ".join(f"{label} {_show(node[key])}" for key, label in _CONSTRAINTS if key in node)
        label = _type_label(node, nullable)
        rows.append(FieldRow(prefix + name, label, name in required, constraints, node.get("description", "")))
        if node.get("properties"):
            rows.extend(field_rows(node, defs, f"{prefix}{name}."))
    return rows


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>\n"


def _fields_table(rows: list[FieldRow], notes: dict[str, str] | None = None) -> str:
    """The description column appears once any field has a description (`Field(description=...)`)."""
    descriptions = [_inline((notes or {}).get(row.name, row.description)) for row in rows]
    headers = ("field", "type", "required", "constraints", "description")[: 5 if any(descriptions) else 4]
    cells = [
        (
            f"<code>{html.escape(row.name)}</code>",
            html.escape(row.type),
            "yes" if row.required else "no",
            html.escape(row.constraints),
            description,
        )[: len(headers)]
        for row, description in zip(rows, descriptions, strict=True)
    ]
    return _table(headers, cells)


def _pre(value: Any) -> str:
    return f"<pre>{html.escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"


def _overview() -> str:
    envelope = Envelope[EventData].model_json_schema()
    amqp = [(f"<code>{html.escape(k)}</code>", html.escape(v)) for k, v in AMQP_PROPERTIES]
    rules = "".join(f"<li>{_inline(rule)}</li>" for rule in VERSIONING_RULES)
    return (
        '<section id="overview"><h2>Overview</h2>'
        "<p>Services talk only through these events. Each is a CloudEvents 1.0 envelope in structured JSON mode; "
        "producers validate strictly, consumers must tolerate unknown fields.</p>"
        f"<h3>Envelope</h3>{_fields_table(field_rows(envelope, envelope['$defs']), ENVELOPE_NOTES)}"
        f"<h3>AMQP message</h3>{_table(('property', 'value'), amqp)}"
        f"{_topology()}<h3>Versioning</h3><ul>{rules}</ul></section>\n"
    )


def _topology() -> str:
    rows = [
        (
            f"<code>{html.escape(spec.name)}</code>",
            spec.owner,
            "<br>".join(f"<code>{html.escape(k)}</code>" for k in spec.binds + spec.dead_letter_binds),
            str(spec.delivery_limit),
            str(spec.max_attempts),
            ", ".join(f"{ms / 1000:g} s" for ms in spec.retry_delays_ms),
            f"<code>{html.escape(spec.parking_queue)}</code>",
            html.escape(spec.description),
        )
        for spec in QUEUES.values()
    ]
    headers = ("queue", "owner", "binds", "delivery limit", "attempts", "retry backoff", "parking", "purpose")
    return (
        f"<h3>Exchanges and queues</h3><p>Every event goes to the topic exchange <code>{EVENTS_EXCHANGE}</code> "
        "with its type as routing key. Each consumer purpose has one durable quorum queue bound to exactly the "
        f"versioned types it handles.</p>{_table(headers, rows)}"
        "<p><b>Retry.</b> A transient failure waits out its backoff in <code>&lt;queue&gt;.retry.&lt;tier&gt;</code> "
        "(a TTL queue that expires back into the consumer queue); a permanent one (a bad video) becomes a "
        "<code>video.failed.v1</code> outcome, not a retry.</p>"
        f"<p><b>Dead letters.</b> After the attempts or the delivery limit, a message goes to <code>"
        f"{DEAD_LETTER_EXCHANGE}</code> with its queue's name as routing key and is parked in <code>"
        "&lt;queue&gt;.dlq</code> for inspection and redrive. A dead-lettered processing job also reaches "
        "<code>video.dead-jobs</code>, so the video is marked failed (<code>retries_exhausted</code>).</p>"
        f"<p><b>Archive.</b> The stream <code>{ARCHIVE_STREAM}</code> receives every type of the contract and "
        f"keeps it for {ARCHIVE_MAX_AGE.removesuffix('D')} days: the source of truth for replay.</p>"
    )


def _event_facts(event_type: str) -> str:
    consumers = [f"{spec.owner} (queue <code>{spec.name}</code>)" for spec in consuming_queues(event_type)]
    consumers += [
        f"{spec.owner} (its dead letters, queue <code>{spec.name}</code>)" for spec in dead_letter_queues(event_type)
    ]
    if event_type in REVOCATION_TYPES:
        consumers.append(f"every service that verifies access tokens (stream <code>{REVOCATIONS_STREAM}</code>)")
    facts = {
        "subject": f"the payload's <code>{subject_field(event_type)}</code>",
        "producers": ", ".join(producers_of(event_type)),
        "consumers": "<br>".join(consumers) or "none inside framepipe",
        "routing key": f"<code>{event_type}</code> on <code>{EVENTS_EXCHANGE}</code>",
        "dataschema": f"<code>{dataschema_uri(event_type)}</code>",
    }
    return "<dl>" + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts.items()) + "</dl>"


def _event_section(event_type: str) -> str:
    schema = event_json_schema(event_type)
    payload = schema["$defs"][model_for(event_type).__name__]
    return (
        f'<section id="{event_type}"><h2><code>{event_type}</code></h2>'
        f"<p>{_inline(model_for(event_type).summary)}</p>{_event_facts(event_type)}"
        f"<h3>data</h3>{_fields_table(field_rows(payload, schema['$defs']))}"
        f"<h3>Example body</h3>{_pre(example_json(event_type))}"
        f"<h3>Example AMQP headers</h3>{_pre(amqp_headers(example_envelope(event_type)))}</section>\n"
    )


def _changelog() -> str:
    items = "".join(
        f"<li><b>{release.version}</b> ({release.date}): {html.escape(release.title)}. Types: "
        + ", ".join(f"<code>{t}</code>" for t in release.types)
        + "</li>"
        for release in reversed(CHANGELOG)
    )
    return f'<section id="changelog"><h2>Changelog</h2><ul>{items}</ul></section>\n'


def html_document() -> str:
    """One self-contained page for integrators: inline CSS, no scripts, no external assets."""
    links = "".join(f'<a href="#{t}">{t}</a> ' for t in EVENT_TYPES)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>framepipe events {CONTRACT_VERSION}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>framepipe events</h1><p>Contract version {CONTRACT_VERSION}. Generated from the models in "
        "<code>contracts/</code>; the AsyncAPI document and JSON Schemas sit next to this page.</p></header>\n"
        f'<nav><a href="#overview">Overview</a> {links}<a href="#changelog">Changelog</a></nav>\n<main>\n'
        + _overview()
        + "".join(_event_section(t) for t in EVENT_TYPES)
        + _changelog()
        + "</main></body></html>\n"
    )
