"""Event type → handler tables for notify_svc's two queues, and the e-mail counters (this is the edge where
an attempt's result is known).

A handler that raises is retried by the consumer wrapper with backoff (the message waits in a retry queue,
so other users' e-mails keep flowing); `PermanentError` parks it at once in `<queue>.dlq`."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from prometheus_client import Counter

from contracts.events import (
    NotificationKind,
    NotificationSentV1,
    UserDeletedV1,
    UserRegisteredV1,
    VideoDeletedV1,
    VideoFailedV1,
    VideoProcessedV1,
    WebhookEndpointDisabledV1,
)
from contracts.topology import QueueSpec
from notify_svc import service, store
from notify_svc.mailer import DeliveryDeferred
from notify_svc.service import NotificationRejected, Notifier, Outcome, RecipientUnknown
from servicekit import outbox
from servicekit.bus import Handler, MessageContext, PermanentError
from servicekit.bus.batch import Batched, BatchItem

SOURCE = "framepipe/notify_svc"

EMAILS = Counter("notify_emails_total", "E-mail attempts by outcome kind and result", ["kind", "status"])
EMAIL_STATUSES = ("sent", "retry", "failed")  # failed: given up (rejected, or the last attempt deferred)
for _kind in NotificationKind:
    for _status in EMAIL_STATUSES:
        EMAILS.labels(_kind.value, _status)


def directory_handlers() -> dict[str, Handler]:
    async def on_user_registered(event: UserRegisteredV1, ctx: MessageContext) -> None:
        structlog.contextvars.bind_contextvars(user_id=str(event.user_id))
        try:
            await service.register_recipient(ctx.db, event)
        except NotificationRejected as exc:
            raise PermanentError(str(exc)) from None

    return {UserRegisteredV1.event_type: on_user_registered}


def deletion_handlers() -> dict[str, Handler]:
    """Deleted accounts and videos: forgotten (the recipient record and its log) and remembered (their ids), so
    that an outcome about them arriving afterwards sends nothing."""

    async def on_user_deleted(event: UserDeletedV1, ctx: MessageContext) -> None:
        structlog.contextvars.bind_contextvars(user_id=str(event.user_id))
        await store.forget_user(ctx.db, event.user_id, event.deleted_at)

    async def on_video_deleted(event: VideoDeletedV1, ctx: MessageContext) -> None:
        structlog.contextvars.bind_contextvars(user_id=str(event.owner_id), video_id=str(event.video_id))
        await store.remember_deleted_video(ctx.db, event.video_id, event.deleted_at)

    return {UserDeletedV1.event_type: on_user_deleted, VideoDeletedV1.event_type: on_video_deleted}


def outcome_handlers(spec: QueueSpec, notifier: Notifier) -> Batched:
    """Both outcome types in one batch handler: the outcomes waiting together are e-mailed together."""

    async def on_outcomes(items: Sequence[BatchItem]) -> list[Exception | None]:
        conn = items[0][1].db
        outcomes = [
            Outcome(ctx.envelope.id, event, last_attempt=ctx.attempt >= spec.max_attempts, trace=ctx.trace)
            for event, ctx in items
        ]
        results = await service.notify_outcomes(conn, notifier, outcomes)
        answers: list[Exception | None] = []
        follow_ups = []
        for (_, ctx), outcome, result in zip(items, outcomes, results, strict=True):
            kind = outcome.kind.value
            if isinstance(result, NotificationRejected):
                EMAILS.labels(kind, "failed").inc()
                answers.append(PermanentError(str(result)))
                continue
            if isinstance(result, DeliveryDeferred | RecipientUnknown):
                EMAILS.labels(kind, "failed" if outcome.last_attempt else "retry").inc()
            if isinstance(result, NotificationSentV1):
                EMAILS.labels(kind, "sent").inc()
                follow_ups.append(ctx.follow_up(result, SOURCE))
                result = None
            answers.append(result)
        if follow_ups:
            await outbox.enqueue_many(conn, follow_ups)
        return answers

    return Batched({VideoProcessedV1.event_type: on_outcomes, VideoFailedV1.event_type: on_outcomes})


def alert_handlers(notifier: Notifier) -> dict[str, Handler]:
    async def on_endpoint_disabled(event: WebhookEndpointDisabledV1, ctx: MessageContext) -> None:
        structlog.contextvars.bind_contextvars(user_id=str(event.owner_id))
        try:
            await service.alert_endpoint_disabled(ctx.db, notifier, ctx.envelope.id, event)
        except NotificationRejected as exc:
            EMAILS.labels("webhook_disabled", "failed").inc()
            raise PermanentError(str(exc)) from None
        except Exception:
            EMAILS.labels("webhook_disabled", "retry").inc()
            raise
        EMAILS.labels("webhook_disabled", "sent").inc()

    return {WebhookEndpointDisabledV1.event_type: on_endpoint_disabled}
