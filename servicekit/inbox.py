"""Consumer idempotency: `(consumer, event_id)` is recorded in the same transaction as the handler's effect,
so a redelivered event is recognised and skipped. Ack happens only after that transaction commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

INBOX_RETENTION_DAYS = 35  # longer than the archive's 30 days, so a replayed event is still recognised


async def claim(conn: asyncpg.Connection, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """True when this consumer has not handled the event before (and now owns it in this transaction)."""
    return event_id in await claim_many(conn, consumer, [(event_id, event_type)])


async def claim_many(
    conn: asyncpg.Connection, consumer: str, events: Sequence[tuple[uuid.UUID, str]]
) -> set[uuid.UUID]:
    """`claim` for several events in one round trip: the ids this consumer had not handled before. Rows are
    inserted in event-id order, so two transactions claiming overlapping sets wait for each other instead of
    deadlocking."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id, event_type) "
        "SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type) ORDER BY e.id "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        [event_id for event_id, _ in events],
        [event_type for _, event_type in events],
    )
    return {row["event_id"] for row in rows}


async def release_many(conn: asyncpg.Connection, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
    """Undo claims made earlier in this transaction (for events whose handling failed while others of the
    same transaction succeeded), so their retries are not taken for duplicates."""
    await conn.execute("DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])", consumer, event_ids)


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
