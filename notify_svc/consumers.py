"""Event type → handler tables for notify_svc's two queues, and the e-mail counters (this is the edge where
an attempt's result is known).

A handler that raises is retried by the consumer wrapper with backoff (the message waits in a retry queue,
so other users' e-mails keep flowing); `PermanentError` parks it at once in `<queue>.dlq`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import Counter

from contracts.events import (
    NotificationKind,
    NotificationSentV1,
    UserRegisteredV1,
    VideoFailedV1,
    VideoProcessedV1,
)
from contracts.topology import QueueSpec
from notify_svc import service
from notify_svc.mailer import DeliveryDeferred
from notify_svc.service import NotificationRejected, Notifier, RecipientUnknown
from servicekit import outbox
from servicekit.bus import Handler, MessageContext, PermanentError

SOURCE = "framepipe/notify_svc"

EMAILS = Counter("notify_emails_total", "E-mail attempts by outcome kind and result", ["kind", "status"])

UseCase = Callable[..., Awaitable[NotificationSentV1 | None]]


def directory_handlers() -> dict[str, Handler]:
    async def on_user_registered(event: UserRegisteredV1, ctx: MessageContext) -> None:
        structlog.contextvars.bind_contextvars(user_id=str(event.user_id))
        try:
            await service.register_recipient(ctx.db, event)
        except NotificationRejected as exc:
            raise PermanentError(str(exc)) from None

    return {UserRegisteredV1.event_type: on_user_registered}


def outcome_handlers(spec: QueueSpec, notifier: Notifier) -> dict[str, Handler]:
    async def on_video_processed(event: VideoProcessedV1, ctx: MessageContext) -> None:
        await _notify(service.notify_processed, NotificationKind.PROCESSED, event, ctx)

    async def on_video_failed(event: VideoFailedV1, ctx: MessageContext) -> None:
        await _notify(service.notify_failed, NotificationKind.FAILED, event, ctx)

    async def _notify(
        use_case: UseCase, kind: NotificationKind, event: VideoProcessedV1 | VideoFailedV1, ctx: MessageContext
    ) -> None:
        structlog.contextvars.bind_contextvars(user_id=str(event.owner_id), video_id=str(event.video_id))
        last_attempt = ctx.attempt >= spec.max_attempts
        try:
            sent = await use_case(ctx.db, notifier, event, ctx.envelope.id, last_attempt=last_attempt)
        except NotificationRejected as exc:
            EMAILS.labels(kind.value, "failed").inc()
            raise PermanentError(str(exc)) from None
        except (DeliveryDeferred, RecipientUnknown):
            EMAILS.labels(kind.value, "failed" if last_attempt else "retry").inc()
            raise
        if sent is not None:
            EMAILS.labels(kind.value, "sent").inc()
            await outbox.enqueue(ctx.db, ctx.follow_up(sent, SOURCE))

    return {VideoProcessedV1.event_type: on_video_processed, VideoFailedV1.event_type: on_video_failed}
