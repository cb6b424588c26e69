"""What every generated document says about one event type, read off the contract: its dataschema URI, its
example as it travels on the wire, the payload field that is its subject, and the queues that consume it or its
dead letters."""

from __future__ import annotations

import json
from typing import Any

from contracts.envelope import DATASCHEMA_BASE, encode
from contracts.examples import example_envelope
from contracts.topology import QUEUES, QueueSpec

JsonDict = dict[str, Any]


def dataschema_uri(event_type: str) -> str:
    return f"{DATASCHEMA_BASE}{event_type}"


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


def example_json(event_type: str) -> JsonDict:
    """The example envelope exactly as it travels on the wire."""
    body: JsonDict = json.loads(encode(example_envelope(event_type)))
    return body
