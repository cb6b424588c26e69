"""The contract described for integrators, derived from the models: one JSON Schema per event type (the whole
CloudEvents envelope), an AsyncAPI 3.0 document and a self-contained HTML page, plus the facts they share
(producers, consumers, AMQP headers, versioning rules, changelog). Pure functions returning plain data or
text, deterministic for a given contract, so committed copies can be checked for drift."""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.envelope import CONTENT_TYPE, DATASCHEMA_BASE, Envelope, amqp_headers, encode
from contracts.events import EventData
from contracts.examples import example_envelope
from contracts.registry import EVENT_TYPES, model_for
from contracts.topology import (
    ARCHIVE_MAX_AGE,
    ARCHIVE_STREAM,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    QUEUES,
    REVOCATION_TYPES,
    REVOCATIONS_STREAM,
    QueueSpec,
)
from contracts.version import CONTRACT_VERSION

JsonDict = dict[str, Any]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
AMQP_BINDING_VERSION = "0.3.0"
SERVER = "rabbitmq"

PRODUCERS: dict[str, tuple[str, ...]] = {
    "auth.user.registered.v1": ("auth_svc",),
    "auth.token.revoked.v1": ("auth_svc",),
    "auth.user.deleted.v1": ("auth_svc",),
    "video.uploaded.v1": ("video_svc",),
    "video.processing.started.v1": ("processor_svc",),
    "video.processing.progress.v1": ("processor_svc",),
    "video.processed.v1": ("processor_svc",),
    "video.failed.v1": ("processor_svc", "video_svc"),
    "video.deleted.v1": ("video_svc",),
    "notification.sent.v1": ("notify_svc",),
    "webhook.delivery.failed.v1": ("webhook_svc",),
    "webhook.endpoint.disabled.v1": ("webhook_svc",),
}

VERSIONING_RULES = (
    "The major version is part of the type (`video.uploaded.v1`); the type is also the routing key.",
    "Within a version, only optional fields may be added. Nothing is removed, renamed, retyped or narrowed, "
    "and no field becomes required.",
    "A breaking change is a new type (`….v2`), published alongside the old one for a deprecation window.",
    "Consumers must ignore fields they do not know, in the envelope and in `data`.",
    "An enum marked `x-extensible-enum` may gain values in a minor version. A consumer parks an event with a value "
    "it does not know (it is not lost: it is processed once the consumer is upgraded), and producers send a new "
    "value only once every consumer of the type knows it: consumers are deployed first.",
)


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    title: str
    types: tuple[str, ...]


CHANGELOG: tuple[Release, ...] = (
    Release(
        version="1.0.0",
        date="2026-11-28",
        title="v1: initial contract",
        types=(
            "auth.user.registered.v1",
            "video.uploaded.v1",
            "video.processing.started.v1",
            "video.processing.progress.v1",
            "video.processed.v1",
            "video.failed.v1",
            "video.deleted.v1",
            "notification.sent.v1",
        ),
    ),
    Release(
        version="1.1.0",
        date="2026-11-28",
        title="Optional `filename` on video outcomes, so a notification can name the video without a lookup",
        types=("video.processed.v1", "video.failed.v1"),
    ),
    Release(
        version="1.2.0",
        date="2026-12-05",
        title="Optional `previews` on `video.processed.v1`: small images of the first frames for a page to show",
        types=("video.processed.v1",),
    ),
    Release(
        version="1.3.0",
        date="2026-12-05",
        title="Optional `traceparent` and `tracestate` on every envelope (the CloudEvents distributed-tracing "
        "extension) and their `ce-` AMQP headers, so one trace follows an upload to its e-mail",
        types=(
            "auth.user.registered.v1",
            "video.uploaded.v1",
            "video.processing.started.v1",
            "video.processing.progress.v1",
            "video.processed.v1",
            "video.failed.v1",
            "video.deleted.v1",
            "notification.sent.v1",
        ),
    ),
    Release(
        version="1.4.0",
        date="2026-12-05",
        title="Webhooks: a delivery that gave up, and an endpoint disabled after failing for days",
        types=("webhook.delivery.failed.v1", "webhook.endpoint.disabled.v1"),
    ),
    Release(
        version="1.4.1",
        date="2026-12-05",
        title="Documents where a video's objects are (`sources/{owner_id}/{video_id}`, `results/{video_id}.zip`, "
        "`results/previews/{video_id}/{n}.jpg`): consumers park an event naming any other object",
        types=("video.uploaded.v1", "video.processed.v1"),
    ),
    Release(
        version="1.5.0",
        date="2026-12-05",
        title="Account lifecycle: revoked access tokens (sign-out, password change) and deleted accounts",
        types=("auth.token.revoked.v1", "auth.user.deleted.v1"),
    ),
    Release(
        version="1.6.0",
        date="2026-12-05",
        title="Extraction options on `video.uploaded.v1`: `mode` (interval, keyframes, scenes), `count`, a "
        "`start_seconds`/`end_seconds` range, `width`/`height` to fit, JPEG/WebP `quality`, the `webp` format, "
        "`scene_threshold`, `max_frames`, `skip_black_start` and a `storyboard`",
        types=("video.uploaded.v1",),
    ),
)


def dataschema_uri(event_type: str) -> str:
    return f"{DATASCHEMA_BASE}{event_type}"


def producers(event_type: str) -> tuple[str, ...]:
    return PRODUCERS.get(event_type, ())


def subject_field(event_type: str) -> str:
    """The payload field whose value is the envelope's `subject` (read off the example)."""
    body = example_json(event_type)
    return next(str(name) for name, value in body["data"].items() if value == body["subject"])


def consuming_queues(event_type: str) -> list[QueueSpec]:
    """Queues bound to the type on the events exchange."""
    return [spec for spec in QUEUES.values() if event_type in spec.binds]


def dead_letter_queues(event_type: str) -> list[QueueSpec]:
    """Queues that consume the type's dead letters (jobs that exhausted their consumer queue)."""
    sources = {spec.name for spec in consuming_queues(event_type)}
    return [spec for spec in QUEUES.values() if sources & set(spec.dead_letter_binds)]


def payload_json_schema(event_type: str) -> JsonDict:
    """The JSON Schema of the event's `data`, as pydantic derives it (the unit of compatibility checks)."""
    return model_for(event_type).model_json_schema()


def example_json(event_type: str) -> JsonDict:
    """The example envelope exactly as it travels on the wire."""
    body: JsonDict = json.loads(encode(example_envelope(event_type)))
    return body


def headers_json_schema(event_type: str) -> JsonDict:
    text = {"type": "string", "minLength": 1, "maxLength": 255}
    properties: JsonDict = {
        "ce-specversion": {"const": "1.0", "type": "string"},
        "ce-type": {"const": event_type, "type": "string"},
        "ce-id": {"format": "uuid", "type": "string", "description": "The event id, also the AMQP message_id."},
        "ce-source": text,
        "ce-subject": {**text, "description": "The aggregate id (the envelope's subject)."},
        "ce-time": {"format": "date-time", "type": "string"},
        "ce-correlationid": text,
        "ce-causationid": {**text, "description": "Present when another event caused this one."},
        "ce-traceparent": {**text, "description": "W3C traceparent of the producing operation, when traced."},
        "ce-tracestate": {
            "type": "string",
            "maxLength": 512,
            "description": "W3C tracestate that goes with ce-traceparent, when there is one.",
        },
    }
    required = sorted(set(properties) - {"ce-causationid", "ce-traceparent", "ce-tracestate"})
    return {"type": "object", "properties": properties, "required": required}


def _pin_envelope(schema: JsonDict, event_type: str) -> JsonDict:
    """Narrow the generic envelope to one type: its `type`, `dataschema` and the description of `data`."""
    pinned = copy.deepcopy(schema)
    props = pinned["properties"]
    props["type"]["const"] = event_type
    props["dataschema"]["const"] = dataschema_uri(event_type)
    props["data"]["description"] = model_for(event_type).summary
    pinned["title"] = event_type
    pinned["description"] = model_for(event_type).summary
    return pinned


def event_json_schema(event_type: str) -> JsonDict:
    """Draft 2020-12 JSON Schema of the whole envelope of one type; its `$id` is the envelope's dataschema."""
    model = model_for(event_type)
    schema = _pin_envelope(Envelope[model].model_json_schema(), event_type)  # type: ignore[valid-type]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema_uri(event_type),
        **schema,
        "examples": [example_json(event_type)],
    }


def _component_schemas() -> JsonDict:
    """Every envelope (keyed by type) and payload schema, with references into `#/components/schemas`."""
    models = [(Envelope[model], "validation") for model in EVENT_TYPES.values()]  # type: ignore[valid-type]
    refs, top = models_json_schema(models, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    schemas: JsonDict = dict(top["$defs"])
    for event_type, (key, _mode) in zip(EVENT_TYPES, models, strict=True):
        name = refs[(key, "validation")]["$ref"].rsplit("/", 1)[-1]
        schemas[event_type] = _pin_envelope(schemas.pop(name), event_type)
    return schemas


def _info() -> JsonDict:
    rules = "\n".join(f"- {rule}" for rule in VERSIONING_RULES)
    return {
        "title": "framepipe events",
        "version": CONTRACT_VERSION,
        "description": (
            "Events between framepipe's services: CloudEvents 1.0 envelopes in structured JSON mode, published "
            f"to the `{EVENTS_EXCHANGE}` topic exchange with the event type as routing key.\n\n"
            f"Versioning:\n{rules}"
        ),
    }


def _server() -> JsonDict:
    return {
        "host": "{host}",
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "title": "RabbitMQ",
        "description": "RabbitMQ 3.10 or later: topic exchanges, quorum queues and a stream for the archive.",
        "variables": {"host": {"default": "localhost:5672", "description": "host:port of the broker"}},
    }


def _exchange_binding(exchange: str) -> JsonDict:
    exchange_spec = {"name": exchange, "type": "topic", "durable": True, "autoDelete": False, "vhost": "/"}
    return {"amqp": {"is": "routingKey", "exchange": exchange_spec, "bindingVersion": AMQP_BINDING_VERSION}}


def _queue_facts(spec: QueueSpec) -> JsonDict:
    return {
        "name": spec.name,
        "owner": spec.owner,
        "type": "quorum",
        "deliveryLimit": spec.delivery_limit,
        "maxAttempts": spec.max_attempts,
        "retryDelaysMs": list(spec.retry_delays_ms),
        "deadLetterExchange": DEAD_LETTER_EXCHANGE,
        "parkingQueue": spec.parking_queue,
        "description": spec.description,
    }


def _channel(event_type: str) -> JsonDict:
    queues = consuming_queues(event_type)
    consumed_by = ", ".join(f"`{spec.name}` ({spec.owner})" for spec in queues) or "no framepipe queue"
    if event_type in REVOCATION_TYPES:
        consumed_by = f"the `{REVOCATIONS_STREAM}` stream, read by every service that verifies access tokens"
    return {
        "address": event_type,
        "title": event_type,
        "summary": model_for(event_type).summary,
        "description": (
            f"Published by {', '.join(producers(event_type))}. Consumed through {consumed_by}. "
            f"Every event is also kept in the `{ARCHIVE_STREAM}` stream."
        ),
        "messages": {event_type: {"$ref": f"#/components/messages/{event_type}"}},
        "servers": [{"$ref": f"#/servers/{SERVER}"}],
        "bindings": _exchange_binding(EVENTS_EXCHANGE),
        "x-queues": [_queue_facts(spec) for spec in queues],
    }


def _dead_letter_channels() -> JsonDict:
    channels: JsonDict = {}
    for spec in QUEUES.values():
        for source in spec.dead_letter_binds:
            types = QUEUES[source].binds
            channels[f"dead-letters.{source}"] = {
                "address": source,
                "title": f"dead letters of {source}",
                "description": f"Messages dead-lettered by `{source}`, routed on `{DEAD_LETTER_EXCHANGE}`.",
                "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in types},
                "servers": [{"$ref": f"#/servers/{SERVER}"}],
                "bindings": _exchange_binding(DEAD_LETTER_EXCHANGE),
                "x-queues": [_queue_facts(spec)],
            }
    return channels


def _operation(action: str, channel: str, types: tuple[str, ...], summary: str, binding: JsonDict) -> JsonDict:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{t}"} for t in types],
        "summary": summary,
        "bindings": {"amqp": {**binding, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def _operations(dead_letter_channels: JsonDict) -> JsonDict:
    send = {"deliveryMode": 2, "mandatory": True, "timestamp": True}
    ops: JsonDict = {}
    for t in EVENT_TYPES:
        for producer in producers(t):
            ops[f"{producer}.send.{t}"] = _operation("send", t, (t,), f"{producer} publishes {t}.", send)
        for spec in consuming_queues(t):
            summary = f"{spec.owner} consumes {t} from queue {spec.name}."
            ops[f"{spec.name}.receive.{t}"] = _operation("receive", t, (t,), summary, {"ack": True})
    for channel_id, channel in dead_letter_channels.items():
        owner, queue = channel["x-queues"][0]["owner"], channel["x-queues"][0]["name"]
        summary = f"{owner} consumes {channel['title']} from queue {queue}."
        ops[f"{queue}.receive.{channel_id}"] = _operation(
            "receive", channel_id, tuple(channel["messages"]), summary, {"ack": True}
        )
    return ops


def _message(event_type: str) -> JsonDict:
    envelope = example_envelope(event_type)
    return {
        "name": event_type,
        "title": model_for(event_type).__name__,
        "summary": model_for(event_type).summary,
        "contentType": CONTENT_TYPE,
        "headers": headers_json_schema(event_type),
        "payload": {"$ref": f"#/components/schemas/{event_type}"},
        "correlationId": {"location": "$message.payload#/correlationid"},
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}},
        "examples": [{"name": "example", "headers": amqp_headers(envelope), "payload": example_json(event_type)}],
    }


def asyncapi_document() -> JsonDict:
    """AsyncAPI 3.0: one channel per event type (address = routing key), its producers and consumers."""
    dead_letters = _dead_letter_channels()
    return {
        "asyncapi": "3.0.0",
        "info": _info(),
        "defaultContentType": CONTENT_TYPE,
        "servers": {SERVER: _server()},
        "channels": {**{t: _channel(t) for t in EVENT_TYPES}, **dead_letters},
        "operations": _operations(dead_letters),
        "components": {
            "schemas": _component_schemas(),
            "messages": {t: _message(t) for t in EVENT_TYPES},
        },
    }


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
        "producers": ", ".join(producers(event_type)),
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
