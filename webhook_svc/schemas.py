"""The JSON answers of webhook_svc's HTTP API, as the handlers render them and its OpenAPI document describes them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from contracts.topology import WEBHOOK_EVENT_TYPES
from servicekit.openapi_models import Timestamp
from webhook_svc.egress import MAX_URL_LENGTH

# The types are checked by the request models' validator; the document names them.
EventTypes = Annotated[
    list[str], Field(json_schema_extra={"items": {"enum": list(WEBHOOK_EVENT_TYPES)}, "uniqueItems": True})
]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class Endpoint(BaseModel):
    id: uuid.UUID
    url: str = Field(json_schema_extra={"format": "uri", "maxLength": MAX_URL_LENGTH})
    description: str
    event_types: EventTypes = Field(json_schema_extra={"minItems": 1})  # said, not checked: rendering never fails
    enabled: bool
    failing_since: Timestamp | None = Field(description="Every attempt has failed since then (null when healthy).")
    disabled_at: Timestamp | None
    disabled_reason: str | None
    previous_secret_expires_at: Timestamp | None = Field(
        description="Until then, deliveries also carry a signature made with the previous secret."
    )
    created_at: Timestamp
    updated_at: Timestamp


class EndpointWithSecret(Endpoint):
    secret: str = Field(pattern="^whsec_", description="The signing secret.")


class EndpointList(BaseModel):
    items: list[Endpoint]


class Attempt(BaseModel):
    attempt: int
    started_at: str = Field(json_schema_extra={"format": "date-time"})  # as PostgreSQL's JSON wrote it
    duration_ms: int
    status_code: int | None
    error: str | None
    response_body: str | None = Field(description="The start of the answer.")


class Delivery(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID = Field(description="Also the webhook-id header.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    finished_at: Timestamp | None
    attempt_log: list[Attempt]


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class DeliveryQueued(BaseModel):
    id: uuid.UUID
    status: Literal["pending"]


class ReplayQueued(BaseModel):
    queued: int
