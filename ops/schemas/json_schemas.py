"""The JSON Schemas of the contract: one per event type for the whole CloudEvents envelope (draft 2020-12, its
`$id` the envelope's dataschema), the payload's alone (the unit of compatibility checks) and the AMQP headers'."""

from __future__ import annotations

import copy

from contracts.envelope import Envelope
from contracts.registry import model_for
from ops.schemas.facts import JsonDict, dataschema_uri, example_json

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def payload_json_schema(event_type: str) -> JsonDict:
    """The JSON Schema of the event's `data`, as pydantic derives it (the unit of compatibility checks)."""
    return model_for(event_type).model_json_schema()


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


def pin_envelope(schema: JsonDict, event_type: str) -> JsonDict:
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
    schema = pin_envelope(Envelope[model].model_json_schema(), event_type)  # type: ignore[valid-type]
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema_uri(event_type),
        **schema,
        "examples": [example_json(event_type)],
    }
