"""SQL for videos and idempotent uploads. Functions take a connection; the caller owns the transaction.
Every query a user can reach filters by owner in SQL; status changes are single guarded statements, so a
late or duplicate event can never move a video backwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from contracts import TERMINAL_STATUSES, VideoStatus
from servicekit import objects

_COLUMNS = (
    "id, owner_id, filename, content_type, size_bytes, source_key, interval_seconds, image_format, options::text, "
    "status, "
    "progress, frame_count, duration_seconds, result_key, result_size_bytes, error_code, error_message, "
    "created_at, updated_at, finished_at, cardinality(preview_keys) AS preview_count"
)
# Spelled from the enum, so the SQL cannot name a status the service does not know.
_IN_FLIGHT = ", ".join(f"'{status}'" for status in VideoStatus if status not in TERMINAL_STATUSES)
_OPEN = f"status IN ({_IN_FLIGHT}) AND deleted_at IS NULL"
# A verified result also ends a failure: after an operator reprocesses or redrives a failed job, the ZIP exists
# and the user should get it. Nothing ever leaves `done`.
_RESULT_WELCOME = f"status <> '{VideoStatus.DONE}' AND deleted_at IS NULL"


@dataclass(frozen=True)
class NewVideo:
    id: uuid.UUID
    owner_id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    source_key: str
    source_sha256: str
    interval_seconds: float
    image_format: str
    options: str  # JSON: every option, as accepted


async def insert_video(conn: asyncpg.Connection, video: NewVideo) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        "INSERT INTO videos (id, owner_id, filename, content_type, size_bytes, source_key, source_sha256, "
        "interval_seconds, image_format, options) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) "
        f"RETURNING {_COLUMNS}",
        video.id,
        video.owner_id,
        video.filename,
        video.content_type,
        video.size_bytes,
        video.source_key,
        video.source_sha256,
        video.interval_seconds,
        video.image_format,
        video.options,
    )
    return row


async def get_video(conn: asyncpg.Connection, owner_id: uuid.UUID, video_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM videos WHERE owner_id = $1 AND id = $2 AND deleted_at IS NULL", owner_id, video_id
    )
    return row


async def list_videos(
    conn: asyncpg.Connection,
    owner_id: uuid.UUID,
    *,
    limit: int,
    status: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[asyncpg.Record]:
    """Newest first, keyset on (created_at, id). One statement per filter shape (not `$2 IS NULL OR …`), so
    every prepared plan can use the owner index."""
    args: list[Any] = [owner_id]
    where = ["owner_id = $1", "deleted_at IS NULL"]
    if status is not None:
        args.append(status)
        where.append(f"status = ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(created_at, id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS} FROM videos WHERE {' AND '.join(where)} "
        f"ORDER BY created_at DESC, id DESC LIMIT ${len(args)}",
        *args,
    )
    return rows


async def videos_by_ids(conn: asyncpg.Connection, video_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """Rows as they are now, deleted ones included, for live changes (their owners' streams are the filter)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS}, deleted_at FROM videos WHERE id = ANY($1::uuid[])", video_ids
    )
    return rows


async def changed_since(
    conn: asyncpg.Connection, owner_id: uuid.UUID, since: datetime, limit: int
) -> list[asyncpg.Record]:
    """The owner's videos changed after `since`, deleted ones included, oldest change first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS}, deleted_at FROM videos WHERE owner_id = $1 AND updated_at > $2 "
        "ORDER BY updated_at, id LIMIT $3",
        owner_id,
        since,
        limit,
    )
    return rows


@dataclass(frozen=True)
class UploadUsage:
    in_flight: int  # videos uploaded or processing, not deleted
    hour_frees_at: float | None  # seconds until an upload leaves the hour, when `per_hour` are inside it
    bytes_today: int  # bytes uploaded in the last 24 hours
    day_frees_at: float | None  # seconds until the oldest of those leaves the day


async def upload_usage(conn: asyncpg.Connection, owner_id: uuid.UUID, per_hour: int) -> UploadUsage:
    row = await conn.fetchrow(
        "SELECT"
        f" (SELECT count(*) FROM videos WHERE owner_id = $1 AND {_OPEN}) AS in_flight,"
        " (SELECT extract(epoch FROM created_at + interval '1 hour' - clock_timestamp()) FROM videos"
        "   WHERE owner_id = $1 AND created_at > clock_timestamp() - interval '1 hour'"
        "   ORDER BY created_at DESC OFFSET $2 - 1 LIMIT 1) AS hour_frees_at,"
        " (SELECT coalesce(sum(size_bytes), 0) FROM videos"
        "   WHERE owner_id = $1 AND created_at > clock_timestamp() - interval '1 day') AS bytes_today,"
        " (SELECT extract(epoch FROM min(created_at) + interval '1 day' - clock_timestamp()) FROM videos"
        "   WHERE owner_id = $1 AND created_at > clock_timestamp() - interval '1 day') AS day_frees_at",
        owner_id,
        per_hour,
    )
    return UploadUsage(
        in_flight=row["in_flight"],
        hour_frees_at=None if row["hour_frees_at"] is None else float(row["hour_frees_at"]),
        bytes_today=int(row["bytes_today"]),
        day_frees_at=None if row["day_frees_at"] is None else float(row["day_frees_at"]),
    )


async def mark_deleted(conn: asyncpg.Connection, owner_id: uuid.UUID, video_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE videos SET deleted_at = clock_timestamp(), updated_at = clock_timestamp() "
        "WHERE owner_id = $1 AND id = $2 AND deleted_at IS NULL "
        "RETURNING id, source_key, result_key, preview_keys, deleted_at",
        owner_id,
        video_id,
    )
    return row


async def live_video_ids(conn: asyncpg.Connection, owner_id: uuid.UUID) -> list[uuid.UUID]:
    """The owner's videos not deleted yet, locked until the caller's transaction ends."""
    rows = await conn.fetch(
        "SELECT id FROM videos WHERE owner_id = $1 AND deleted_at IS NULL ORDER BY created_at FOR UPDATE", owner_id
    )
    return [row["id"] for row in rows]


async def forget_owner(conn: asyncpg.Connection, owner_id: uuid.UUID) -> None:
    """What a deleted account leaves besides its videos' state: the file names it gave (deleted rows are kept,
    nameless, so a late result of theirs is still recognised and discarded) and its stored upload responses."""
    await conn.execute("UPDATE videos SET filename = '' WHERE owner_id = $1 AND filename <> ''", owner_id)
    await conn.execute("DELETE FROM idempotency_keys WHERE owner_id = $1", owner_id)


async def mark_processing(conn: asyncpg.Connection, video_id: uuid.UUID) -> bool:
    result: str = await conn.execute(
        f"UPDATE videos SET status = '{VideoStatus.PROCESSING}', updated_at = clock_timestamp() "
        f"WHERE id = $1 AND status = '{VideoStatus.UPLOADED}' AND deleted_at IS NULL",
        video_id,
    )
    return result != "UPDATE 0"


async def record_progress(conn: asyncpg.Connection, video_id: uuid.UUID, progress: float) -> bool:
    """Progress only grows, and only while the video is not finished; it also implies `processing`."""
    result: str = await conn.execute(
        f"UPDATE videos SET status = '{VideoStatus.PROCESSING}', progress = GREATEST(progress, $2), "
        f"updated_at = clock_timestamp() WHERE id = $1 AND {_OPEN} "
        f"AND (status = '{VideoStatus.UPLOADED}' OR progress < $2)",
        video_id,
        progress,
    )
    return result != "UPDATE 0"


@dataclass(frozen=True)
class Result:
    key: str
    size_bytes: int
    sha256: str
    frame_count: int
    duration_seconds: float
    finished_at: datetime
    preview_keys: list[str]


async def mark_done(conn: asyncpg.Connection, video_id: uuid.UUID, result: Result) -> bool:
    outcome: str = await conn.execute(
        f"UPDATE videos SET status = '{VideoStatus.DONE}', progress = 1, result_key = $2, result_size_bytes = $3, "
        "result_sha256 = $4, frame_count = $5, duration_seconds = $6, finished_at = $7, "
        "error_code = NULL, error_message = NULL, preview_keys = $8, "
        f"updated_at = clock_timestamp() WHERE id = $1 AND {_RESULT_WELCOME}",
        video_id,
        result.key,
        result.size_bytes,
        result.sha256,
        result.frame_count,
        result.duration_seconds,
        result.finished_at,
        result.preview_keys,
    )
    return outcome != "UPDATE 0"


async def mark_failed(
    conn: asyncpg.Connection, video_id: uuid.UUID, code: str, message: str, failed_at: datetime
) -> asyncpg.Record | None:
    """Returns the failed video's owner, end and file name when this call finished it; None when it was already
    finished, deleted or unknown."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"UPDATE videos SET status = '{VideoStatus.FAILED}', error_code = $2, error_message = $3, finished_at = $4, "
        f"updated_at = clock_timestamp() WHERE id = $1 AND {_OPEN} RETURNING owner_id, finished_at, filename",
        video_id,
        code,
        message,
        failed_at,
    )
    return row


async def video_state(conn: asyncpg.Connection, video_id: uuid.UUID) -> asyncpg.Record | None:
    """Status, result key and whether the video was deleted, whoever owns it (for event handlers)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT status, result_key, deleted_at IS NOT NULL AS deleted FROM videos WHERE id = $1", video_id
    )
    return row


def object_keys(row: asyncpg.Record) -> list[str]:
    """Every storage key a video row names (source, result and previews), and where the segments of its
    extraction may still lie when it was split (servicekit/objects.py)."""
    named = [key for key in (row["source_key"], row["result_key"], *row["preview_keys"]) if key]
    return [*named, *objects.segment_keys(row["id"])]


async def deleted_object_keys(conn: asyncpg.Connection, owner_id: uuid.UUID, video_id: uuid.UUID) -> list[str]:
    """The storage keys a deleted video still names (none if it is not deleted)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, source_key, result_key, preview_keys FROM videos "
        "WHERE id = $1 AND owner_id = $2 AND deleted_at IS NOT NULL",
        video_id,
        owner_id,
    )
    return object_keys(row) if row else []


async def preview_key(conn: asyncpg.Connection, owner_id: uuid.UUID, video_id: uuid.UUID, number: int) -> str | None:
    """The key of preview `number` (from 1) of a finished video of this owner."""
    key: str | None = await conn.fetchval(
        "SELECT preview_keys[$3] FROM videos WHERE owner_id = $1 AND id = $2 AND deleted_at IS NULL "
        f"AND status = '{VideoStatus.DONE}'",
        owner_id,
        video_id,
        number,
    )
    return key


async def stored_response(conn: asyncpg.Connection, owner_id: uuid.UUID, key: str) -> asyncpg.Record | None:
    """The response of an upload made with this key in the last 24 hours."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT status, body::text AS body FROM idempotency_keys "
        "WHERE owner_id = $1 AND key = $2 AND created_at > now() - interval '24 hours'",
        owner_id,
        key,
    )
    return row


async def claim_idempotency_key(
    conn: asyncpg.Connection, owner_id: uuid.UUID, key: str, status: int, body: str
) -> bool:
    """Store the response under the key, unless a live one is there (an expired one is replaced). A concurrent
    upload with the same key waits here on the primary key until the other commits or rolls back."""
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (owner_id, key, status, body) VALUES ($1, $2, $3, $4::jsonb) "
        "ON CONFLICT (owner_id, key) DO UPDATE SET status = EXCLUDED.status, body = EXCLUDED.body, "
        "created_at = now() WHERE idempotency_keys.created_at <= now() - interval '24 hours' RETURNING true",
        owner_id,
        key,
        status,
        body,
    )
    return bool(claimed)
