"""The answers every service shares, as models its OpenAPI document is generated from: the problem+json
document servicekit.http renders and the readiness report of /readyz."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional() -> Any:
    """A member an answer may leave out (never `null` when present): a Field for `x: T | Absent = optional()`."""
    return Field(default=None, json_schema_extra=_no_default)


# With `optional()`: the member is left out when None; the document does not offer `null`.
Absent = SkipJsonSchema[None]


# Answers have always written times as `datetime.isoformat()` does (`+00:00`, not pydantic's `Z`).
Timestamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; clients branch on `code`."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = Field(json_schema_extra={"format": "uri"})
    title: str
    status: int = Field(ge=400, le=599)
    code: str
    detail: str | Absent = optional()
    instance: str | Absent = optional()
    request_id: str | None = optional()
    errors: list[FieldError] | Absent = optional()
    retry_after: Annotated[int, Field(ge=1)] | Absent = optional()


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]
