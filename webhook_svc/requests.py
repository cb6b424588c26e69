"""What the webhook API accepts: the bodies and query of its requests, validated before service.py sees them."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.topology import WEBHOOK_EVENT_TYPES
from webhook_svc.egress import MAX_URL_LENGTH
from webhook_svc.schemas import DeliveryStatus, EventTypes


def _known_types(types: list[str] | None) -> list[str] | None:
    unknown = sorted(set(types or ()) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise ValueError(f"not a webhook event type: {', '.join(unknown)} (one of: {', '.join(WEBHOOK_EVENT_TYPES)})")
    return types


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    event_types: EventTypes = Field(min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str = Field(default="", max_length=500)

    _types = field_validator("event_types")(_known_types)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    event_types: EventTypes | None = Field(default=None, min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    _types = field_validator("event_types")(_known_types)

    @model_validator(mode="after")
    def _something(self) -> EndpointPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of url, event_types, description, enabled")
        return self


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime | None = None
    only_undelivered: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> ReplayIn:
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=64)
    status: DeliveryStatus | None = None
