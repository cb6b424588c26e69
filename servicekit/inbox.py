"""Consumer idempotency: `(consumer, event_id)` is recorded in the same transaction as the handler's effect,
so a redelivered event is recognised and skipped. Ack happens only after that transaction commits."""

from __future__ import annotations

import uuid

import asyncpg

INBOX_RETENTION_DAYS = 35  # longer than the archive's 30 days, so a replayed event is still recognised


async def claim(conn: asyncpg.Connection, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """True when this consumer has not handled the event before (and now owns it in this transaction)."""
    inserted = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
        event_type,
    )
    return bool(inserted)


async def claim_for_reprocess(conn: asyncpg.Connection, consumer: str, event_id: uuid.UUID, event_type: str) -> None:
    """An operator asked to handle the event again: record that it was reprocessed."""
    await conn.execute(
        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3) "
        "ON CONFLICT (consumer, event_id) DO UPDATE SET reprocessed = inbox.reprocessed + 1",
        consumer,
        event_id,
        event_type,
    )


async def prune(conn: asyncpg.Connection) -> str:
    result: str = await conn.execute(
        "DELETE FROM inbox WHERE received_at < now() - make_interval(days => $1)", INBOX_RETENTION_DAYS
    )
    return result
