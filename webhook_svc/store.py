"""SQL of the webhook schema. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

ENDPOINT_COLUMNS = (
    "id, owner_id, url, description, event_types, enabled, failing_since, disabled_at, disabled_reason, "
    "previous_secret_expires_at, created_at, updated_at"
)
NOTIFY_DELIVERIES = "SELECT pg_notify(current_schema() || '_deliveries', '')"


@dataclass(frozen=True)
class NewEndpoint:
    id: uuid.UUID
    owner_id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    secret: str


@dataclass(frozen=True)
class StoredEvent:
    event_id: uuid.UUID
    event_type: str
    owner_id: uuid.UUID
    occurred_at: datetime
    body: bytes


async def insert_endpoint(conn: asyncpg.Connection, e: NewEndpoint) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        "INSERT INTO endpoints (id, owner_id, url, description, event_types, secret) VALUES ($1, $2, $3, $4, $5, $6) "
        f"RETURNING {ENDPOINT_COLUMNS}",
        e.id,
        e.owner_id,
        e.url,
        e.description,
        e.event_types,
        e.secret,
    )
    return row


async def lock_owner(conn: asyncpg.Connection, owner_id: uuid.UUID) -> None:
    """Serialises one owner's endpoint creations, so the per-user limit holds under concurrent requests."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", str(owner_id))


async def count_endpoints(conn: asyncpg.Connection, owner_id: uuid.UUID) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM endpoints WHERE owner_id = $1", owner_id)
    return count


async def list_endpoints(conn: asyncpg.Connection, owner_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE owner_id = $1 ORDER BY created_at, id", owner_id
    )
    return rows


async def get_endpoint(conn: asyncpg.Connection, owner_id: uuid.UUID, endpoint_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1 AND owner_id = $2", endpoint_id, owner_id
    )
    return row


async def update_endpoint(
    conn: asyncpg.Connection,
    owner_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    url: str | None,
    description: str | None,
    event_types: list[str] | None,
    enable: bool | None,
) -> asyncpg.Record | None:
    """Changes what is given; enabling clears the failure state, disabling by hand leaves a reason."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE endpoints SET url = coalesce($3, url), description = coalesce($4, description), "
        "event_types = coalesce($5, event_types), "
        "enabled = coalesce($6, enabled), "
        "failing_since = CASE WHEN $6 IS NULL THEN failing_since ELSE NULL END, "
        "disabled_at = CASE WHEN $6 IS NULL THEN disabled_at WHEN $6 THEN NULL ELSE coalesce(disabled_at, now()) END, "
        "disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason WHEN $6 THEN NULL "
        "ELSE coalesce(disabled_reason, 'disabled by its owner') END, "
        "updated_at = now() "
        f"WHERE id = $1 AND owner_id = $2 RETURNING {ENDPOINT_COLUMNS}",
        endpoint_id,
        owner_id,
        url,
        description,
        event_types,
        enable,
    )
    return row


async def delete_endpoint(conn: asyncpg.Connection, owner_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    result: str = await conn.execute("DELETE FROM endpoints WHERE id = $1 AND owner_id = $2", endpoint_id, owner_id)
    return result.endswith(" 1")


async def forget_owner(conn: asyncpg.Connection, owner_id: uuid.UUID, deleted_at: datetime) -> int:
    """Delete a deleted account's endpoints (their deliveries and attempts go with them) and its kept events, and
    remember the deletion so that its later events are not kept; returns how many endpoints there were."""
    await lock_owner(conn, owner_id)  # no endpoint is created for the owner meanwhile
    await conn.execute(
        "INSERT INTO deleted_owners (owner_id, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", owner_id, deleted_at
    )
    status: str = await conn.execute("DELETE FROM endpoints WHERE owner_id = $1", owner_id)
    await conn.execute("DELETE FROM events WHERE owner_id = $1", owner_id)
    return int(status.rsplit(" ", 1)[-1])


async def rotate_secret(
    conn: asyncpg.Connection, owner_id: uuid.UUID, endpoint_id: uuid.UUID, secret: str, overlap_seconds: float
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE endpoints SET previous_secret = secret, secret = $3, "
        "previous_secret_expires_at = now() + make_interval(secs => $4), updated_at = now() "
        f"WHERE id = $1 AND owner_id = $2 RETURNING {ENDPOINT_COLUMNS}",
        endpoint_id,
        owner_id,
        secret,
        overlap_seconds,
    )
    return row


async def record_events(conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> int:
    """Keep the events (a copy already kept is left alone, a deleted account's is dropped) and queue a delivery to
    every enabled endpoint of the owner subscribed to the type, in one round trip; returns how many deliveries were
    queued."""
    rows = await conn.fetch(
        "WITH kept AS ("
        " INSERT INTO events (event_id, event_type, owner_id, occurred_at, body)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[], $5::bytea[]) AS n(id, t, owner)"
        " WHERE NOT EXISTS (SELECT 1 FROM deleted_owners d WHERE d.owner_id = n.owner)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id, event_type, owner_id) "
        "INSERT INTO deliveries (id, endpoint_id, event_id) "
        "SELECT gen_random_uuid(), e.id, k.event_id FROM kept k "
        "JOIN endpoints e ON e.owner_id = k.owner_id AND e.enabled AND k.event_type = ANY(e.event_types) "
        "ORDER BY k.event_id "
        "ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id",
        [e.event_id for e in events],
        [e.event_type for e in events],
        [e.owner_id for e in events],
        [e.occurred_at for e in events],
        [e.body for e in events],
    )
    return len(rows)


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt, with everything the attempt and its recording need."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    owner_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    attempt: int
    round_attempt: int
    url: str
    secrets: tuple[str, ...]
    body: bytes


async def claim_due(
    conn: asyncpg.Connection, limit: int, skip_endpoints: Sequence[uuid.UUID], lease_seconds: float
) -> list[Claimed]:
    """Take up to `limit` due deliveries, oldest due first, except those of `skip_endpoints` (at their limit
    here): count the attempt and lease each for its duration. One statement, so one round trip; rows another
    dispatcher holds are skipped, not waited for."""
    rows = await conn.fetch(
        "UPDATE deliveries d SET attempts = d.attempts + 1, round_attempts = d.round_attempts + 1, "
        "next_attempt_at = now() + make_interval(secs => $3), last_attempt_at = now() "
        "FROM endpoints e, events ev "
        "WHERE d.id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now() "
        " AND endpoint_id <> ALL($2::uuid[]) ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "AND e.id = d.endpoint_id AND e.enabled AND ev.event_id = d.event_id "
        "RETURNING d.id, d.endpoint_id, e.owner_id, d.event_id, ev.event_type, d.attempts, d.round_attempts, e.url, "
        "e.secret, CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret, "
        "ev.body",
        limit,
        list(skip_endpoints),
        lease_seconds,
    )
    return [
        Claimed(
            id=r["id"],
            endpoint_id=r["endpoint_id"],
            owner_id=r["owner_id"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            attempt=r["attempts"],
            round_attempt=r["round_attempts"],
            url=r["url"],
            secrets=(r["secret"],) + ((r["previous_secret"],) if r["previous_secret"] else ()),
            body=bytes(r["body"]),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Settled:
    """One attempt and the delivery's new state after it: `status` pending (to retry `retry_in_seconds` from
    now), succeeded or failed."""

    delivery_id: uuid.UUID
    attempt: int
    status: str
    retry_in_seconds: float
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response_body: str


async def settle(
    conn: asyncpg.Connection, rows: Sequence[Settled], healthy_endpoints: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Log the attempts, apply their outcomes and clear the failure state of the endpoints that answered, in one
    round trip. An outcome whose delivery was claimed again since (its lease ran out, or it was resent) is logged
    but not applied. Returns the ids that were applied."""
    applied = await conn.fetch(
        "WITH logged AS ("
        " INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)"
        " SELECT * FROM unnest($1::uuid[], $2::int[], $5::timestamptz[], $6::int[], $7::int[], $8::text[],"
        " $9::text[]) ON CONFLICT DO NOTHING), "
        "healed AS (UPDATE endpoints SET failing_since = NULL "
        " WHERE id = ANY($10::uuid[]) AND failing_since IS NOT NULL) "
        "UPDATE deliveries d SET status = s.status, last_status_code = s.code, last_error = s.error, "
        "next_attempt_at = CASE WHEN s.status = 'pending' THEN now() + make_interval(secs => s.delay) "
        "ELSE d.next_attempt_at END, "
        "finished_at = CASE WHEN s.status = 'pending' THEN NULL ELSE now() END "
        "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::float8[], $7::int[], $8::text[]) "
        "AS s(id, attempt, status, delay, code, error) "
        "WHERE d.id = s.id AND d.attempts = s.attempt AND d.status = 'pending' RETURNING d.id",
        [r.delivery_id for r in rows],
        [r.attempt for r in rows],
        [r.status for r in rows],
        [r.retry_in_seconds for r in rows],
        [r.started_at for r in rows],
        [r.duration_ms for r in rows],
        [r.status_code for r in rows],
        [r.error for r in rows],
        [r.response_body for r in rows],
        list(healthy_endpoints),
    )
    return {row["id"] for row in applied}


async def mark_endpoints_failing(
    conn: asyncpg.Connection,
    endpoint_ids: Sequence[uuid.UUID],
    disable_after_seconds: float,
    reasons: dict[uuid.UUID, str],
) -> list[asyncpg.Record]:
    """Note when each endpoint started failing; disable those failing for longer than allowed (their pending
    deliveries fail with them). Returns the endpoints disabled now."""
    ids = list(endpoint_ids)
    await conn.execute(
        "UPDATE endpoints SET failing_since = now() WHERE id = ANY($1::uuid[]) AND failing_since IS NULL", ids
    )
    disabled: list[asyncpg.Record] = await conn.fetch(
        "UPDATE endpoints e SET enabled = false, disabled_at = now(), updated_at = now(), "
        "disabled_reason = 'Every delivery failed since ' || to_char(e.failing_since AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD HH24:MI \"UTC\"') || ' (last: ' || r.reason || ').' "
        "FROM unnest($1::uuid[], $3::text[]) AS r(id, reason) "
        "WHERE e.id = r.id AND e.enabled AND e.failing_since <= now() - make_interval(secs => $2) "
        "RETURNING e.id, e.owner_id, e.url, e.failing_since, e.disabled_at, e.disabled_reason",
        ids,
        disable_after_seconds,
        [reasons.get(i, "unknown") for i in ids],
    )
    if disabled:
        await conn.execute(
            "UPDATE deliveries SET status = 'failed', finished_at = now(), "
            "last_error = coalesce(last_error || '; ', '') || 'endpoint disabled' "
            "WHERE endpoint_id = ANY($1::uuid[]) AND status = 'pending'",
            [row["id"] for row in disabled],
        )
    return disabled


async def list_deliveries(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, limit: int, before_seq: int | None, status: str | None
) -> list[asyncpg.Record]:
    """A page of the endpoint's delivery log, newest first, each with its attempts (oldest first)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT d.seq, d.id, d.event_id, ev.event_type, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, "
        "d.last_status_code, d.last_error, d.created_at, d.finished_at, "
        "coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'started_at', a.started_at, "
        "'duration_ms', a.duration_ms, 'status_code', a.status_code, 'error', a.error, "
        "'response_body', a.response_body) ORDER BY a.attempt) FROM attempts a WHERE a.delivery_id = d.id), "
        "'[]'::json)::text AS attempt_log "
        "FROM deliveries d JOIN events ev ON ev.event_id = d.event_id "
        "WHERE d.endpoint_id = $1 AND ($2::bigint IS NULL OR d.seq < $2) AND ($3::text IS NULL OR d.status = $3) "
        "ORDER BY d.seq DESC LIMIT $4",
        endpoint_id,
        before_seq,
        status,
        limit,
    )
    return rows


async def resend(conn: asyncpg.Connection, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> bool:
    """Queue the delivery again now, with a fresh round of retries (its log keeps the earlier attempts)."""
    result: str = await conn.execute(
        "UPDATE deliveries SET status = 'pending', round_attempts = 0, next_attempt_at = now(), finished_at = NULL "
        "WHERE id = $1 AND endpoint_id = $2",
        delivery_id,
        endpoint_id,
    )
    await conn.execute(NOTIFY_DELIVERIES)
    return result.endswith(" 1")


async def replay(
    conn: asyncpg.Connection,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    only_undelivered: bool,
) -> int:
    """Queue a delivery of every kept event of the endpoint's owner and types that happened in [since, until):
    new ones for events it never had, and again those already finished (unless `only_undelivered`, which leaves
    the succeeded ones alone). Deliveries still pending keep their schedule."""
    rows = await conn.fetch(
        "INSERT INTO deliveries (id, endpoint_id, event_id) "
        "SELECT gen_random_uuid(), e.id, ev.event_id FROM endpoints e JOIN events ev "
        "ON ev.owner_id = e.owner_id AND ev.event_type = ANY(e.event_types) "
        "WHERE e.id = $1 AND ev.occurred_at >= $2 AND ($3::timestamptz IS NULL OR ev.occurred_at < $3) "
        "ORDER BY ev.occurred_at "
        "ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', round_attempts = 0, "
        "next_attempt_at = now(), finished_at = NULL "
        "WHERE deliveries.status = 'failed' OR (deliveries.status = 'succeeded' AND NOT $4) RETURNING id",
        endpoint_id,
        since,
        until,
        only_undelivered,
    )
    await conn.execute(NOTIFY_DELIVERIES)
    return len(rows)


async def prune(conn: asyncpg.Connection, retention_days: float) -> None:
    """Events (and with them their deliveries and attempts) older than the retention."""
    await conn.execute(
        "DELETE FROM events WHERE received_at < now() - make_interval(secs => $1)", retention_days * 86400
    )
