"""SQL of the notify schema. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
    """A deleted account is never recorded again (its registration replayed, or arriving late)."""
    await conn.execute(
        "INSERT INTO recipients (user_id, email, name, registered_at) "
        "SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = $1) "
        "ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = now()",
        user_id,
        email,
        name,
        registered_at,
    )


async def recipient(conn: asyncpg.Connection, user_id: uuid.UUID) -> Recipient | None:
    row = await conn.fetchrow("SELECT email, name FROM recipients WHERE user_id = $1", user_id)
    return Recipient(user_id, row["email"], row["name"]) if row else None


@dataclass(frozen=True)
class OutcomeContext:
    status: str | None
    recipient: Recipient | None
    deleted: bool = False  # the video, or its owner's account, was deleted: nothing is sent about it


async def outcome_contexts(
    conn: asyncpg.Connection, outcomes: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]
) -> list[OutcomeContext]:
    """What sending each outcome's e-mail needs to know (`(event_id, user_id, video_id)`), in one round trip."""
    rows = await conn.fetch(
        "SELECT n.status, r.email, r.name, "
        "       (du.user_id IS NOT NULL OR dv.video_id IS NOT NULL) AS deleted "
        "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS o(event_id, user_id, video_id, i) "
        "LEFT JOIN notifications n ON n.event_id = o.event_id LEFT JOIN recipients r ON r.user_id = o.user_id "
        "LEFT JOIN deleted_users du ON du.user_id = o.user_id LEFT JOIN deleted_videos dv ON dv.video_id = o.video_id "
        "ORDER BY o.i",
        [event_id for event_id, _, _ in outcomes],
        [user_id for _, user_id, _ in outcomes],
        [video_id for _, _, video_id in outcomes],
    )
    return [
        OutcomeContext(
            row["status"],
            Recipient(user_id, row["email"], row["name"]) if row["email"] is not None else None,
            row["deleted"],
        )
        for (_, user_id, _), row in zip(outcomes, rows, strict=True)
    ]


async def forget_user(conn: asyncpg.Connection, user_id: uuid.UUID, deleted_at: datetime) -> None:
    """Remove the recipient record and the notification log of a deleted account, and remember the deletion."""
    await conn.execute("DELETE FROM recipients WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM notifications WHERE user_id = $1", user_id)
    await conn.execute(
        "INSERT INTO deleted_users (user_id, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", user_id, deleted_at
    )


DELETED_VIDEO_RETENTION_DAYS = 35  # past the archive's 30 days: no replay can bring an outcome older than that


async def remember_deleted_video(conn: asyncpg.Connection, video_id: uuid.UUID, deleted_at: datetime) -> None:
    """Remember the deletion, and forget those too old for any outcome of theirs to arrive still (pruned as they
    are added, so the table stays as large as a retention period of deletions)."""
    await conn.execute(
        "INSERT INTO deleted_videos (video_id, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", video_id, deleted_at
    )
    await conn.execute(
        "DELETE FROM deleted_videos WHERE deleted_at < now() - make_interval(days => $1)", DELETED_VIDEO_RETENTION_DAYS
    )


async def record_sent(
    conn: asyncpg.Connection, sent: Sequence[tuple[NewNotification, datetime]]
) -> dict[uuid.UUID, uuid.UUID]:
    """The rows as sent, in one round trip; returns event id -> notification id (an earlier pending/failed row
    of the same outcome keeps its id and creation time)."""
    rows = await conn.fetch(
        "INSERT INTO notifications (id, event_id, user_id, video_id, kind, status, subject, message_id, recipient, "
        "attempts, sent_at) "
        "SELECT id, event_id, user_id, video_id, kind, 'sent', subject, message_id, recipient, 1, sent_at "
        "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], "
        "$9::timestamptz[]) AS s(id, event_id, user_id, video_id, kind, subject, message_id, recipient, sent_at) "
        "ON CONFLICT (event_id) DO UPDATE SET status = 'sent', subject = EXCLUDED.subject, "
        "recipient = EXCLUDED.recipient, attempts = notifications.attempts + 1, last_error = NULL, "
        "sent_at = EXCLUDED.sent_at "
        "RETURNING event_id, id",
        [n.id for n, _ in sent],
        [n.event_id for n, _ in sent],
        [n.user_id for n, _ in sent],
        [n.video_id for n, _ in sent],
        [n.kind for n, _ in sent],
        [n.subject for n, _ in sent],
        [n.message_id for n, _ in sent],
        [n.recipient for n, _ in sent],
        [sent_at for _, sent_at in sent],
    )
    return {row["event_id"]: row["id"] for row in rows}


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
