"""The use cases of video_svc: accept an upload (stream every file to S3, then one transaction for the rows,
their events and the idempotency record), list, show, hand out downloads and delete."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Protocol

import asyncpg
import structlog

from contracts import Envelope, ObjectRef, ProcessingOptions, VideoDeletedV1, VideoStatus, VideoUploadedV1, new_envelope
from servicekit import outbox
from servicekit.cursors import decode_time_cursor, encode_time_cursor
from servicekit.objects import source_key
from servicekit.storage import Storage
from video_svc import admission, store
from video_svc.media import ReadChunk, UploadTooLarge, limited_stream, read_head, sniff_container
from video_svc.views import render_video

log = structlog.get_logger(__name__)

SOURCE = "framepipe/video_svc"
IDEMPOTENCY_KEY_MAX = 255
MULTIPART_OVERHEAD = 1024**2  # headers, boundaries and option fields around the files of one request


class EmptyFile(Exception):
    """A file part carried no bytes."""


class UnsupportedMedia(Exception):
    """The first bytes of a file are not a supported video container."""


class VideoNotFound(Exception):
    """No such video for this owner (missing, deleted or someone else's: the caller cannot tell)."""


class NotReady(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(f"the video is {status}")
        self.status = status


def clean_filename(raw: str | None) -> str:
    """The client's file name for display only (never a storage key): no path, no control characters."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = "".join(c for c in name if c.isprintable()).strip()[:255]
    return name or "video"


@dataclass(frozen=True)
class StoredSource:
    video_id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    key: str
    sha256: str


@dataclass
class Upload:
    """The files of one request as they are stored. Until the request is accepted, `discard` removes every
    object it stored, so a rejected or interrupted request leaves nothing behind."""

    storage: Storage
    owner_id: uuid.UUID
    max_bytes: int
    # What the user may still upload today, and what to answer when a file goes past it (admission.py).
    budget: int | None = None
    over_budget: Exception | None = None
    sources: list[StoredSource] = field(default_factory=list)

    async def add_file(self, filename: str | None, read_chunk: ReadChunk) -> StoredSource:
        head = await read_head(read_chunk)
        if not head:
            raise EmptyFile
        content_type = sniff_container(head)
        if content_type is None:
            raise UnsupportedMedia
        video_id = uuid.uuid4()
        key = source_key(self.owner_id, video_id)
        limit = self.max_bytes if self.budget is None else min(self.max_bytes, self.budget)
        try:
            stored = await self.storage.put_stream(key, limited_stream(head, read_chunk, limit), content_type)
        except UploadTooLarge:
            if limit < self.max_bytes and self.over_budget is not None:
                raise self.over_budget from None
            raise
        if self.budget is not None:
            self.budget -= stored.size_bytes
        source = StoredSource(video_id, clean_filename(filename), content_type, stored.size_bytes, key, stored.sha256)
        self.sources.append(source)
        return source

    async def discard(self) -> None:
        keys = [s.key for s in self.sources]
        self.sources = []
        if keys:
            # Shielded: a client that disconnects cancels the handler, and the clean-up must still finish.
            await asyncio.shield(self.storage.delete(*keys))


@dataclass(frozen=True)
class UploadResponse:
    status: int
    body: str  # JSON, exactly as first answered
    replayed: bool = False


async def replayed_response(pool: asyncpg.Pool, owner_id: uuid.UUID, key: str | None) -> UploadResponse | None:
    if key is None:
        return None
    async with pool.acquire() as conn:
        row = await store.stored_response(conn, owner_id, key)
    return None if row is None else UploadResponse(row["status"], row["body"], replayed=True)


class _KeyAlreadyUsed(Exception):
    """Rolls the transaction back: a concurrent upload with the same key committed first."""


async def accept_upload(
    pool: asyncpg.Pool,
    upload: Upload,
    options: ProcessingOptions,
    idempotency_key: str | None,
    correlation_id: str,
) -> UploadResponse:
    """One transaction: the rows, one `video.uploaded.v1` each, and the response stored under the key."""
    try:
        async with pool.acquire() as conn, conn.transaction():
            rows = [await _record_video(conn, upload, source, options, correlation_id) for source in upload.sources]
            body = json.dumps({"items": [render_video(row) for row in rows]})
            if idempotency_key is not None and not await store.claim_idempotency_key(
                conn, upload.owner_id, idempotency_key, 202, body
            ):
                raise _KeyAlreadyUsed
    except _KeyAlreadyUsed:
        replay = await replayed_response(pool, upload.owner_id, idempotency_key)
        assert replay is not None, "the key was taken inside the last 24 hours"
        return replay
    return UploadResponse(202, body)


@dataclass(frozen=True)
class Uploads:
    """What the upload use case works with: the database, the bucket, this replica's upload slots and the rules
    of one upload (the settings)."""

    pool: asyncpg.Pool
    storage: Storage
    slots: admission.UploadSlots
    max_upload_bytes: int
    max_files: int
    quotas: admission.Quotas


class UploadForm(Protocol):
    """The request's body as the upload use case reads it (api.py: a multipart stream)."""

    @property
    def declared_length(self) -> int | None: ...

    def check(self) -> None:
        """Refuses a body that cannot hold the files of an upload, before anything is read."""

    async def read(self, upload: Upload) -> ProcessingOptions:
        """Streams every file into `upload`; returns the processing options."""


async def upload_videos(
    uploads: Uploads, owner_id: uuid.UUID, key: str | None, form: UploadForm, correlation_id: str
) -> UploadResponse:
    """The request's files stored and accepted in one transaction, or nothing of them kept. A key already used
    within a day answers what its first request was answered (`replayed`), without reading the body."""
    replay = await replayed_response(uploads.pool, owner_id, key)
    if replay is not None:
        return replay
    form.check()
    declared = form.declared_length
    if declared is not None and declared > uploads.max_files * uploads.max_upload_bytes + MULTIPART_OVERHEAD:
        raise UploadTooLarge(uploads.max_upload_bytes)
    with uploads.slots.hold(owner_id):
        async with uploads.pool.acquire() as conn:
            budget = await admission.todays_budget(conn, owner_id, uploads.quotas)
        upload = Upload(uploads.storage, owner_id, uploads.max_upload_bytes, budget.bytes_left, budget.spent)
        try:
            options = await form.read(upload)
            response = await accept_upload(uploads.pool, upload, options, key, correlation_id)
        except BaseException:
            await upload.discard()
            raise
    if response.replayed:  # a concurrent request with the same key won: keep nothing of ours
        await upload.discard()
    return response


async def _record_video(
    conn: asyncpg.Connection, upload: Upload, source: StoredSource, options: ProcessingOptions, correlation_id: str
) -> asyncpg.Record:
    row = await store.insert_video(
        conn,
        store.NewVideo(
            id=source.video_id,
            owner_id=upload.owner_id,
            filename=source.filename,
            content_type=source.content_type,
            size_bytes=source.size_bytes,
            source_key=source.key,
            source_sha256=source.sha256,
            interval_seconds=options.interval_seconds,
            image_format=options.image_format.value,
            options=options.model_dump_json(),
        ),
    )
    event = VideoUploadedV1(
        video_id=source.video_id,
        owner_id=upload.owner_id,
        filename=source.filename,
        content_type=source.content_type,
        size_bytes=source.size_bytes,
        source=ObjectRef(bucket=upload.storage.bucket, key=source.key),
        options=options,
        uploaded_at=row["created_at"],
    )
    await outbox.enqueue(conn, new_envelope(event, source=SOURCE, correlation_id=correlation_id))
    return row


@dataclass(frozen=True)
class Page:
    items: list[asyncpg.Record]
    next_cursor: str | None


async def list_videos(
    pool: asyncpg.Pool, owner_id: uuid.UUID, *, limit: int, status: str | None, cursor: str | None
) -> Page:
    after = decode_time_cursor(cursor) if cursor is not None else None
    async with pool.acquire() as conn:
        rows = await store.list_videos(conn, owner_id, limit=limit + 1, status=status, after=after)
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_time_cursor(last["created_at"], last["id"]))


async def get_video(pool: asyncpg.Pool, owner_id: uuid.UUID, video_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get_video(conn, owner_id, video_id)
    if row is None:
        raise VideoNotFound
    return row


@dataclass(frozen=True)
class Download:
    url: str
    expires_at: datetime


async def download(
    pool: asyncpg.Pool, storage: Storage, owner_id: uuid.UUID, video_id: uuid.UUID, ttl_seconds: int
) -> Download:
    row = await get_video(pool, owner_id, video_id)
    if row["status"] != VideoStatus.DONE or row["result_key"] is None:
        raise NotReady(row["status"])
    name = f"{PurePosixPath(row['filename']).stem or 'video'}.zip"
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    url = await storage.presigned_get(row["result_key"], ttl_seconds, download_name=name)
    return Download(url, expires_at)


async def preview(pool: asyncpg.Pool, storage: Storage, owner_id: uuid.UUID, video_id: uuid.UUID, number: int) -> bytes:
    async with pool.acquire() as conn:
        key = await store.preview_key(conn, owner_id, video_id, number)
    if key is None:
        raise VideoNotFound
    return await storage.read(key)


async def delete_video(
    pool: asyncpg.Pool, storage: Storage, owner_id: uuid.UUID, video_id: uuid.UUID, correlation_id: str
) -> None:
    """Mark deleted and publish in one transaction, then remove the objects. If storage fails now, video_svc's
    own consumer of `video.deleted.v1` removes them once it answers again; a result the processor stores later
    is removed when its event arrives (see lifecycle)."""
    async with pool.acquire() as conn, conn.transaction():
        keys = await mark_video_deleted(
            conn, owner_id, video_id, lambda event: new_envelope(event, source=SOURCE, correlation_id=correlation_id)
        )
    if keys is None:
        raise VideoNotFound
    await remove_objects(storage, video_id, keys)


async def mark_video_deleted(
    conn: asyncpg.Connection,
    owner_id: uuid.UUID,
    video_id: uuid.UUID,
    envelope_of: Callable[[VideoDeletedV1], Envelope[Any]],
) -> list[str] | None:
    """Mark the video deleted and enqueue its `video.deleted.v1` (wrapped by the caller: a request's correlation,
    or the event that caused it) in the caller's transaction; the object keys to remove, or None if there was no
    such live video. The one way a video is deleted, by its owner or with their account."""
    row = await store.mark_deleted(conn, owner_id, video_id)
    if row is None:
        return None
    event = VideoDeletedV1(video_id=video_id, owner_id=owner_id, deleted_at=row["deleted_at"])
    await outbox.enqueue(conn, envelope_of(event))
    return store.object_keys(row)


async def remove_objects(storage: Storage, video_id: uuid.UUID, keys: list[str]) -> None:
    """Best effort, after the deletion is recorded: if storage fails now, the consumer of `video.deleted.v1`
    (queue video.deleted-objects) removes them once it answers again."""
    try:
        await asyncio.shield(storage.delete(*keys))
    except Exception as exc:  # whatever storage raised: the deletion event's consumer retries the removal
        log.warning("deleted_objects_left_for_retry", video_id=str(video_id), error=f"{type(exc).__name__}: {exc}")
