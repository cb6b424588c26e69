"""The contract as an AsyncAPI 3.0 document: one channel per event type (address = routing key) and one per
queue's dead letters, who sends and who receives each, with the AMQP bindings and the queues' retry facts."""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from contracts.envelope import CONTENT_TYPE, Envelope, amqp_headers
from contracts.examples import example_envelope
from contracts.registry import EVENT_TYPES, model_for, producers_of
from contracts.topology import (
    ARCHIVE_STREAM,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    QUEUES,
    REVOCATION_TYPES,
    REVOCATIONS_STREAM,
    QueueSpec,
)
from contracts.version import CONTRACT_VERSION
from ops.schemas.changelog import VERSIONING_RULES
from ops.schemas.facts import JsonDict, consuming_queues, example_json
from ops.schemas.json_schemas import headers_json_schema, pin_envelope

AMQP_BINDING_VERSION = "0.3.0"
SERVER = "rabbitmq"


def _component_schemas() -> JsonDict:
    """Every envelope (keyed by type) and payload schema, with references into `#/components/schemas`."""
    models = [(Envelope[model], "validation") for model in EVENT_TYPES.values()]  # type: ignore[valid-type]
    refs, top = models_json_schema(models, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    schemas: JsonDict = dict(top["$defs"])
    for event_type, (key, _mode) in zip(EVENT_TYPES, models, strict=True):
        name = refs[(key, "validation")]["$ref"].rsplit("/", 1)[-1]
        schemas[event_type] = pin_envelope(schemas.pop(name), event_type)
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
            f"Published by {', '.join(producers_of(event_type))}. Consumed through {consumed_by}. "
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
        for producer in producers_of(t):
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
