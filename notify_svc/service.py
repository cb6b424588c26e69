"""notify_svc's use cases: keep the recipient directory, e-mail each outcome once, list a user's notifications.

Exactly one e-mail per outcome, although the e-mail is a side effect outside the database:
- The handler runs in the consumer's transaction with the inbox row already claimed, so two deliveries of
  the same outcome never run at once (the second waits on the inbox row, then sees a duplicate).
- The `notifications` row (UNIQUE event_id) is written as `sent` in that same transaction, after the SMTP
  server accepted the message. A redelivery finds the inbox row; a replay after the inbox forgot it finds
  `sent`; neither sends again.
- A failed attempt rolls the transaction back (inbox row included) so the wrapper's retry runs the handler
  again. Its `pending` / `failed` status is therefore written through a separate pool, committed on its
  own before the exception is raised, so the log tells the truth about attempts that did not send. (A
  separate pool rather than the consumers' one: a burst of failures must not wait for connections that
  their own transactions hold.)
- The one edge left is a crash (or a failed commit) after the SMTP server accepted the message and before
  the commit: the outcome is handled again and the e-mail is sent again, at least once rather than never,
  with the same Message-ID (`<event_id@framepipe>`), which lets mail systems and clients drop the copy."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from contracts.events import (
    NotificationKind,
    NotificationSentV1,
    UserRegisteredV1,
    VideoFailedV1,
    VideoProcessedV1,
)
from notify_svc import store
from notify_svc.emails import InvalidAddress, Letter, Sender, Templates, build_message, mailbox, message_id_for
from notify_svc.mailer import DeliveryDeferred, DeliveryRejected, Mailer

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
        return f"{self.app_base_url.rstrip('/')}/video/{video_id}"


async def register_recipient(conn: asyncpg.Connection, event: UserRegisteredV1) -> None:
    try:
        address = mailbox(event.email)
    except InvalidAddress as exc:
        raise NotificationRejected(f"unusable e-mail address: {exc}") from None
    await store.upsert_recipient(conn, event.user_id, address, event.name, event.registered_at)


async def notify_processed(
    conn: asyncpg.Connection, notifier: Notifier, event: VideoProcessedV1, event_id: uuid.UUID, *, last_attempt: bool
) -> NotificationSentV1 | None:
    def letter(name: str | None) -> Letter:
        return notifier.templates.processed(
            name=name,
            video_id=event.video_id,
            filename=event.filename,
            frame_count=event.frame_count,
            link=notifier.video_link(event.video_id),
        )

    outcome = _Outcome(event_id, NotificationKind.PROCESSED, event.owner_id, event.video_id)
    return await _deliver(conn, notifier, outcome, letter, last_attempt)


async def notify_failed(
    conn: asyncpg.Connection, notifier: Notifier, event: VideoFailedV1, event_id: uuid.UUID, *, last_attempt: bool
) -> NotificationSentV1 | None:
    def letter(name: str | None) -> Letter:
        return notifier.templates.failed(
            name=name,
            video_id=event.video_id,
            filename=event.filename,
            code=event.error.code,
            link=notifier.video_link(event.video_id),
        )

    outcome = _Outcome(event_id, NotificationKind.FAILED, event.owner_id, event.video_id)
    return await _deliver(conn, notifier, outcome, letter, last_attempt)


@dataclass(frozen=True)
class _Outcome:
    event_id: uuid.UUID
    kind: NotificationKind
    user_id: uuid.UUID
    video_id: uuid.UUID


async def _deliver(
    conn: asyncpg.Connection,
    notifier: Notifier,
    outcome: _Outcome,
    render: Callable[[str | None], Letter],
    last_attempt: bool,
) -> NotificationSentV1 | None:
    """Send the outcome's e-mail unless it was sent already; returns the event to publish after a send."""
    known = await store.outcome_context(conn, outcome.event_id, outcome.user_id)
    if known.status == "sent":
        log.info("notification_already_sent")
        return None
    recipient = known.recipient
    letter = render(recipient.name if recipient else None)
    row = store.NewNotification(
        id=uuid.uuid4(),
        event_id=outcome.event_id,
        user_id=outcome.user_id,
        video_id=outcome.video_id,
        kind=outcome.kind.value,
        subject=letter.subject,
        message_id=message_id_for(outcome.event_id),
        recipient=recipient.email if recipient else None,
    )
    if recipient is None:
        await _record_unsent(notifier, row, "failed" if last_attempt else "pending", "recipient not known yet")
        raise RecipientUnknown(f"no registration event for user {outcome.user_id} yet")
    await _send(notifier, row, letter, recipient, last_attempt)
    sent_at = datetime.now(UTC)
    notification_id = await store.record_sent(conn, row, sent_at)
    return NotificationSentV1(
        notification_id=notification_id,
        user_id=outcome.user_id,
        video_id=outcome.video_id,
        kind=outcome.kind,
        sent_at=sent_at,
    )


async def _send(
    notifier: Notifier, row: store.NewNotification, letter: Letter, recipient: store.Recipient, last_attempt: bool
) -> None:
    try:
        message = build_message(
            letter,
            sender=notifier.sender,
            recipient=recipient.email,
            recipient_name=recipient.name,
            message_id=row.message_id,
            date=datetime.now(UTC),
        )
        await notifier.mailer.send(message, sender=notifier.sender.address, recipient=recipient.email)
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
