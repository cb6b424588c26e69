"""What every payload is built on: frozen models that ignore unknown fields (additive evolution), the base of
every event's `data`, and the objects and errors several events name."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.values import FailureCode, NonEmptyStr


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EventData(Payload):
    """Base of every event payload. `event_type` is the versioned CloudEvents `type` and AMQP routing key;
    `producers` are the services that publish it (the broker lets no other service publish it, and the generated
    documents name them)."""

    event_type: ClassVar[str]
    summary: ClassVar[str]
    producers: ClassVar[tuple[str, ...]]

    def subject(self) -> str:
        """The aggregate the event is about (the envelope's `subject`)."""
        raise NotImplementedError


class ObjectRef(Payload):
    bucket: NonEmptyStr
    key: NonEmptyStr


class ResultObject(ObjectRef):
    size_bytes: int = Field(ge=0)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ProcessingError(Payload):
    code: FailureCode
    message: Annotated[str, StringConstraints(max_length=2000)]
