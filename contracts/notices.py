"""The events that tell of notices sent and not sent: e-mails (notify_svc) and webhooks (webhook_svc)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints

from contracts.base import EventData
from contracts.values import NonEmptyStr, NotificationKind, WebhookUrl


class NotificationSentV1(EventData):
    event_type: ClassVar[str] = "notification.sent.v1"
    summary: ClassVar[str] = "The owner of a video was notified of its outcome."
    producers: ClassVar[tuple[str, ...]] = ("notify_svc",)

    notification_id: UUID
    user_id: UUID
    video_id: UUID
    kind: NotificationKind
    channel: Annotated[str, StringConstraints(pattern=r"^email$")] = "email"
    sent_at: datetime

    def subject(self) -> str:
        return str(self.user_id)


class WebhookDeliveryFailedV1(EventData):
    event_type: ClassVar[str] = "webhook.delivery.failed.v1"
    summary: ClassVar[str] = "A webhook delivery gave up after its last retry: the event never reached the endpoint."
    producers: ClassVar[tuple[str, ...]] = ("webhook_svc",)

    endpoint_id: UUID
    owner_id: UUID
    delivery_id: UUID
    event_id: UUID = Field(description="The id of the event that was not delivered (its webhook-id).")
    delivered_type: NonEmptyStr = Field(description="The type of the event that was not delivered.")
    attempts: int = Field(ge=1)
    last_error: Annotated[str, StringConstraints(max_length=2000)]
    failed_at: AwareDatetime

    def subject(self) -> str:
        return str(self.endpoint_id)


class WebhookEndpointDisabledV1(EventData):
    event_type: ClassVar[str] = "webhook.endpoint.disabled.v1"
    summary: ClassVar[str] = "A webhook endpoint failed every delivery for too long and was disabled."
    producers: ClassVar[tuple[str, ...]] = ("webhook_svc",)

    endpoint_id: UUID
    owner_id: UUID
    url: WebhookUrl
    failing_since: AwareDatetime
    disabled_at: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=2000)]

    def subject(self) -> str:
        return str(self.endpoint_id)
