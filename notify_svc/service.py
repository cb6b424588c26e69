"""notify_svc's use cases: keep the recipient directory, e-mail each outcome once, list a user's notifications.

Exactly one e-mail per outcome, although the e-mail is a side effect outside the database:
- Outcomes are handled in batches (docs/decisions/0008), in the consumer's transaction with their inbox rows
  already claimed, so two deliveries of the same outcome never run at once (the second waits on the inbox row,
  then sees a duplicate).
- The `notifications` rows (UNIQUE event_id) of the e-mails the SMTP server accepted are written as `sent` in that
  same transaction. A redelivery finds the inbox row; a replay after the inbox forgot it finds `sent`; neither
  sends again.
- An outcome whose e-mail was not sent writes nothing in that transaction: the consumer releases its inbox claim
  while the others commit, and retries it. Its `pending` / `failed` status is therefore written through a
  separate pool, committed on its own, so the log tells the truth about attempts that did not send. (A separate
  pool rather than the consumers' one: a burst of failures must not wait for connections that their own
  transactions hold.)
- The one edge left is a crash (or a failed commit) after the SMTP server accepted a batch's messages and before
  the commit: those outcomes are handled again and their e-mails sent again, at least once rather than never,
  with the same Message-ID (`<event_id@framepipe>`), which lets mail systems and clients drop the copy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog
from opentelemetry.context import Context

from contracts.events import (
    NotificationKind,
    NotificationSentV1,
    UserRegisteredV1,
    VideoFailedV1,
    VideoProcessedV1,
    WebhookEndpointDisabledV1,
)
from notify_svc import store
from notify_svc.emails import InvalidAddress, Letter, Sender, Templates, build_message, mailbox, message_id_for
from notify_svc.mailer import DeliveryDeferred, DeliveryRejected, Mailer
from servicekit import tracing

log = structlog.get_logger(__name__)


class RecipientUnknown(Exception):
    """The outcome arrived before the owner's registration event: retry later."""


class NotificationRejected(Exception):
    """This e-mail can never be delivered (refused recipient, unusable address): do not retry."""


@dataclass(frozen=True)
class Notifier:
    templates: Templates
    mailer: Mailer
    sender: Sender
    app_base_url: str
    log_pool: asyncpg.Pool  # for the status of attempts that fail: it must survive the handler's rollback

    def video_link(self, video_id: uuid.UUID) -> str:
        return f"{self.app_base_url.rstrip('/')}/app/videos/{video_id}"  # the web app's view, not the bearer API


async def register_recipient(conn: asyncpg.Connection, event: UserRegisteredV1) -> None:
    try:
        address = mailbox(event.email)
    except InvalidAddress as exc:
        raise NotificationRejected(f"unusable e-mail address: {exc}") from None
    await store.upsert_recipient(conn, event.user_id, address, event.name, event.registered_at)


@dataclass(frozen=True)
class Outcome:
    """A video's outcome event to e-mail its owner about, as delivered this time."""

    event_id: uuid.UUID
    event: VideoProcessedV1 | VideoFailedV1
    last_attempt: bool
    trace: Context | None = None  # the trace of this delivery: its e-mail is sent in it

    @property
    def kind(self) -> NotificationKind:
        return NotificationKind.PROCESSED if isinstance(self.event, VideoProcessedV1) else NotificationKind.FAILED

    def letter(self, notifier: Notifier, name: str | None) -> Letter:
        e, link = self.event, notifier.video_link(self.event.video_id)
        if isinstance(e, VideoProcessedV1):
            return notifier.templates.processed(
                name=name, video_id=e.video_id, filename=e.filename, frame_count=e.frame_count, link=link
            )
        return notifier.templates.failed(
            name=name, video_id=e.video_id, filename=e.filename, code=e.error.code, link=link
        )


@dataclass(frozen=True)
class _Sent:
    row: store.NewNotification
    sent_at: datetime


async def notify_outcomes(
    conn: asyncpg.Connection, notifier: Notifier, outcomes: Sequence[Outcome]
) -> list[NotificationSentV1 | Exception | None]:
    """E-mail each outcome unless it was sent already, all at once. One result per outcome: the event to publish
    after a send, None when it had been sent before, or why it was not sent (`RecipientUnknown`,
    `NotificationRejected`, `DeliveryDeferred`, or any other error); an outcome not sent wrote nothing through
    `conn`, so its inbox claim can be released while the others commit."""
    known = await store.outcome_contexts(conn, [(o.event_id, o.event.owner_id, o.event.video_id) for o in outcomes])
    attempts = await asyncio.gather(
        *(tracing.within(o.trace, _attempt(notifier, o, k)) for o, k in zip(outcomes, known, strict=True)),
        return_exceptions=True,
    )
    sent = [a for a in attempts if isinstance(a, _Sent)]
    ids = await store.record_sent(conn, [(a.row, a.sent_at) for a in sent]) if sent else {}
    results: list[NotificationSentV1 | Exception | None] = []
    for outcome, attempt in zip(outcomes, attempts, strict=True):
        if isinstance(attempt, _Sent):
            results.append(
                NotificationSentV1(
                    notification_id=ids[outcome.event_id],
                    user_id=outcome.event.owner_id,
                    video_id=outcome.event.video_id,
                    kind=outcome.kind,
                    sent_at=attempt.sent_at,
                )
            )
        elif isinstance(attempt, Exception) or attempt is None:
            results.append(attempt)
        else:
            raise attempt  # cancelled
    return results


async def _attempt(notifier: Notifier, outcome: Outcome, known: store.OutcomeContext) -> _Sent | None:
    """One outcome's e-mail (in a task of its own, so its log context is its own)."""
    structlog.contextvars.bind_contextvars(
        event_id=str(outcome.event_id), user_id=str(outcome.event.owner_id), video_id=str(outcome.event.video_id)
    )
    if known.status == "sent":
        log.info("notification_already_sent")
        return None
    if known.deleted:
        log.info("notification_skipped_deleted")  # the video or its owner's account is gone: say nothing
        return None
    recipient = known.recipient
    letter = outcome.letter(notifier, recipient.name if recipient else None)
    row = store.NewNotification(
        id=uuid.uuid4(),
        event_id=outcome.event_id,
        user_id=outcome.event.owner_id,
        video_id=outcome.event.video_id,
        kind=outcome.kind.value,
        subject=letter.subject,
        message_id=message_id_for(outcome.event_id),
        recipient=recipient.email if recipient else None,
    )
    if recipient is None:
        status = "failed" if outcome.last_attempt else "pending"
        await _record_unsent(notifier, row, status, "recipient not known yet")
        raise RecipientUnknown(f"no registration event for user {outcome.event.owner_id} yet")
    await _send(notifier, row, letter, recipient, outcome.last_attempt)
    return _Sent(row, datetime.now(UTC))


async def _send(
    notifier: Notifier, row: store.NewNotification, letter: Letter, recipient: store.Recipient, last_attempt: bool
) -> None:
    try:
        await _mail(notifier, letter, recipient, row.message_id)
    except (DeliveryRejected, InvalidAddress) as exc:
        await _record_unsent(notifier, row, "failed", str(exc))
        raise NotificationRejected(str(exc)) from None
    except DeliveryDeferred as exc:
        await _record_unsent(notifier, row, "failed" if last_attempt else "pending", str(exc))
        raise


async def _record_unsent(notifier: Notifier, row: store.NewNotification, status: str, error: str) -> None:
    """Committed on its own connection. If even that fails the attempt is still retried: only the log line
    of this attempt is lost, never the e-mail."""
    try:
        async with notifier.log_pool.acquire(timeout=5) as conn:
            await store.record_unsent(conn, row, status, error)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("notification_status_not_recorded", status=status, error=f"{type(exc).__name__}: {exc}")
    log.warning("notification_not_sent", status=status, error=error[:300])


async def alert_endpoint_disabled(
    conn: asyncpg.Connection, notifier: Notifier, event_id: uuid.UUID, event: WebhookEndpointDisabledV1
) -> None:
    """E-mail the owner that their webhook endpoint was disabled: once per event (its id is the Message-ID, and
    the consumer's inbox row commits with this handler)."""
    recipient = await store.recipient(conn, event.owner_id)
    if recipient is None:
        raise RecipientUnknown(f"no registration event for user {event.owner_id} yet")
    letter = notifier.templates.webhook_disabled(
        name=recipient.name,
        url=event.url,
        endpoint_id=event.endpoint_id,
        reason=event.reason,
        failing_since=event.failing_since,
    )
    try:
        await _mail(notifier, letter, recipient, message_id_for(event_id))
    except (DeliveryRejected, InvalidAddress) as exc:
        raise NotificationRejected(str(exc)) from None
    log.info("webhook_alert_sent", endpoint_id=str(event.endpoint_id))


async def _mail(notifier: Notifier, letter: Letter, recipient: store.Recipient, message_id: str) -> None:
    """Build the message for exactly this recipient and hand it to the SMTP server."""
    message = build_message(
        letter,
        sender=notifier.sender,
        recipient=recipient.email,
        recipient_name=recipient.name,
        message_id=message_id,
        date=datetime.now(UTC),
    )
    await notifier.mailer.send(message, sender=notifier.sender.address, recipient=recipient.email)


@dataclass(frozen=True)
class NotificationPage:
    items: list[asyncpg.Record]
    next_before: int | None


async def list_notifications(
    pool: asyncpg.Pool, user_id: uuid.UUID, limit: int, before: int | None
) -> NotificationPage:
    async with pool.acquire() as conn:
        rows = await store.list_notifications(conn, user_id, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return NotificationPage(items=rows, next_before=rows[-1]["seq"] if more else None)
