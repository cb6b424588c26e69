"""SQL of the notify schema. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    email: str
    name: str | None


@dataclass(frozen=True)
class NewNotification:
    id: uuid.UUID
    event_id: uuid.UUID
    user_id: uuid.UUID
    video_id: uuid.UUID
    kind: str
    subject: str
    message_id: str
    recipient: str | None


async def upsert_recipient(
    conn: asyncpg.Connection, user_id: uuid.UUID, email: str, name: str | None, registered_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO recipients (user_id, email, name, registered_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now()",
        user_id,
        email,
        name,
        registered_at,
    )


@dataclass(frozen=True)
class OutcomeContext:
    status: str | None
    recipient: Recipient | None


async def outcome_context(conn: asyncpg.Connection, event_id: uuid.UUID, user_id: uuid.UUID) -> OutcomeContext:
    """What sending an outcome's e-mail needs to know, in one round trip."""
    row = await conn.fetchrow(
        "SELECT (SELECT status FROM notifications WHERE event_id = $1) AS status, "
        "r.email, r.name FROM (SELECT 1) AS one LEFT JOIN recipients r ON r.user_id = $2",
        event_id,
        user_id,
    )
    recipient = Recipient(user_id, row["email"], row["name"]) if row["email"] is not None else None
    return OutcomeContext(row["status"], recipient)


async def record_sent(conn: asyncpg.Connection, n: NewNotification, sent_at: datetime) -> uuid.UUID:
    """The row as sent; an earlier pending/failed row of the same outcome keeps its id and creation time."""
    notification_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO notifications (id, event_id, user_id, video_id, kind, status, subject, message_id, recipient, "
        "attempts, sent_at) VALUES ($1, $2, $3, $4, $5, 'sent', $6, $7, $8, 1, $9) "
        "ON CONFLICT (event_id) DO UPDATE SET status = 'sent', subject = EXCLUDED.subject, "
        "recipient = EXCLUDED.recipient, attempts = notifications.attempts + 1, last_error = NULL, sent_at = $9 "
        "RETURNING id",
        n.id,
        n.event_id,
        n.user_id,
        n.video_id,
        n.kind,
        n.subject,
        n.message_id,
        n.recipient,
        sent_at,
    )
    return notification_id


async def record_unsent(conn: asyncpg.Connection, n: NewNotification, status: str, error: str) -> None:
    """A failed attempt: `pending` while retries remain, `failed` once we give up. Never downgrades `sent`."""
    await conn.execute(
        "INSERT INTO notifications (id, event_id, user_id, video_id, kind, status, subject, message_id, recipient, "
        "attempts, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10) "
        "ON CONFLICT (event_id) DO UPDATE SET status = EXCLUDED.status, subject = EXCLUDED.subject, "
        "recipient = EXCLUDED.recipient, attempts = notifications.attempts + 1, last_error = EXCLUDED.last_error "
        "WHERE notifications.status <> 'sent'",
        n.id,
        n.event_id,
        n.user_id,
        n.video_id,
        n.kind,
        status,
        n.subject,
        n.message_id,
        n.recipient,
        error[:1000],
    )


async def list_notifications(
    conn: asyncpg.Connection, user_id: uuid.UUID, limit: int, before_seq: int | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT seq, id, video_id, kind, channel, status, subject, created_at, sent_at FROM notifications "
        "WHERE user_id = $1 AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3",
        user_id,
        before_seq,
        limit,
    )
    return rows
