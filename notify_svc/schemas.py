"""The JSON answers of notify_svc's HTTP API, as the handlers render them and its OpenAPI document describes them."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from contracts import NotificationKind
from servicekit.openapi_models import Timestamp


class Notification(BaseModel):
    id: uuid.UUID
    video_id: uuid.UUID
    kind: NotificationKind
    channel: Literal["email"]
    status: Literal["pending", "sent", "failed"]
    subject: str
    created_at: Timestamp
    sent_at: Timestamp | None


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
