"""How processing events move a video: `uploaded → processing → done | failed`, forward only. Each change is
one guarded UPDATE, so duplicates and out-of-order arrivals are no-ops; the consumer's inbox already drops
redeliveries of the same event."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import structlog

from contracts import (
    FailureCode,
    ProcessingError,
    UserDeletedV1,
    VideoDeletedV1,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoSegmentRequestedV1,
    VideoUploadedV1,
)
from contracts.topology import PROCESSOR_VIDEO_UPLOADED
from servicekit import objects, outbox
from servicekit.bus import MessageContext, PermanentError
from servicekit.storage import Storage
from video_svc import service, store
from video_svc.service import SOURCE

log = structlog.get_logger(__name__)

RETRIES_EXHAUSTED_MESSAGE = "Processing failed repeatedly and was given up."


async def on_started(conn: asyncpg.Connection, event: VideoProcessingStartedV1) -> None:
    if not await store.mark_processing(conn, event.video_id):
        log.info("started_ignored", video_id=str(event.video_id))


async def on_progress(conn: asyncpg.Connection, event: VideoProcessingProgressV1) -> None:
    if not await store.record_progress(conn, event.video_id, event.progress):
        log.info("progress_ignored", video_id=str(event.video_id), progress=event.progress)


async def on_deleted(conn: asyncpg.Connection, storage: Storage, event: VideoDeletedV1) -> None:
    """Remove what the DELETE request could not (storage down at that moment); deleting twice is harmless, so a
    storage error here just means the consumer wrapper retries later."""
    keys = await store.deleted_object_keys(conn, event.owner_id, event.video_id)
    await storage.delete(*keys)
    log.info("deleted_objects_removed", video_id=str(event.video_id), objects=len(keys))


async def on_user_deleted(ctx: MessageContext, storage: Storage, event: UserDeletedV1) -> None:
    """A deleted account's videos go as their owner's DELETE would take them, each with its `video.deleted.v1`
    (caused by this event). Its objects are removed now, best effort: those events' own consumer removes whatever
    storage refused. A redelivery after the commit is dropped by the inbox; one before it finds the same videos."""
    removals = []
    for video_id in await store.live_video_ids(ctx.db, event.user_id):
        keys = await service.mark_video_deleted(
            ctx.db, event.user_id, video_id, lambda deleted: ctx.follow_up(deleted, SOURCE)
        )
        if keys is not None:
            removals.append((video_id, keys))
    await store.forget_owner(ctx.db, event.user_id)
    for video_id, keys in removals:
        await service.remove_objects(storage, video_id, keys)
    log.info("account_videos_deleted", user_id=str(event.user_id), videos=len(removals))


async def on_processed(conn: asyncpg.Connection, storage: Storage, event: VideoProcessedV1) -> None:
    """Record the result; a result for a deleted (or already failed) video is discarded with its objects. The
    objects must be where the processor puts this very video's (servicekit.objects): an event that names another
    object, wherever it came from, is refused (parked), so a download can only ever point at this video's ZIP."""
    refs = [event.result, *event.previews]
    if (
        any(ref.bucket != storage.bucket for ref in refs)
        or event.result.key != objects.result_key(event.video_id)
        or not all(objects.is_preview_of(event.video_id, ref.key) for ref in event.previews)
    ):
        log.warning("foreign_objects_refused", video_id=str(event.video_id), keys=[ref.key for ref in refs][:5])
        raise PermanentError(f"video.processed.v1 for {event.video_id} names objects that are not its own")
    previews = [ref.key for ref in event.previews]
    result = store.Result(
        key=event.result.key,
        size_bytes=event.result.size_bytes,
        sha256=event.result.sha256,
        frame_count=event.frame_count,
        duration_seconds=event.duration_seconds,
        finished_at=event.finished_at,
        preview_keys=previews,
    )
    if await store.mark_done(conn, event.video_id, result):
        return
    state = await store.video_state(conn, event.video_id)
    if state is not None and _is_orphan(state, event, storage.bucket):
        # Deleting twice is harmless, so doing it before the inbox row commits is safe.
        await storage.delete(event.result.key, *previews)
        log.info("result_discarded", video_id=str(event.video_id), key=event.result.key)
    else:
        log.info("processed_ignored", video_id=str(event.video_id))


def _is_orphan(state: asyncpg.Record, event: VideoProcessedV1, bucket: str) -> bool:
    return bool(state["deleted"] and event.result.bucket == bucket and event.result.key != state["result_key"])


async def on_failed(conn: asyncpg.Connection, event: VideoFailedV1) -> None:
    failed = await store.mark_failed(conn, event.video_id, event.error.code, event.error.message, event.failed_at)
    if failed is None:
        log.info("failed_ignored", video_id=str(event.video_id))


async def on_dead_job(event: VideoUploadedV1 | VideoSegmentRequestedV1, ctx: MessageContext) -> None:
    """A processing job, or one segment of a long video's, that was dead-lettered: the video fails with
    `retries_exhausted`, and the user is told through `video.failed.v1` (once: only the call that finishes the
    video publishes)."""
    error = ProcessingError(code=FailureCode.RETRIES_EXHAUSTED, message=RETRIES_EXHAUSTED_MESSAGE)
    failed = await store.mark_failed(ctx.db, event.video_id, error.code, error.message, datetime.now(UTC))
    if failed is None:
        log.info("dead_job_ignored", video_id=str(event.video_id))
        return
    outcome = VideoFailedV1(
        video_id=event.video_id,
        owner_id=failed["owner_id"],
        error=error,
        attempts=PROCESSOR_VIDEO_UPLOADED.max_attempts,
        failed_at=failed["finished_at"],
        filename=failed["filename"],
    )
    await outbox.enqueue(ctx.db, ctx.follow_up(outcome, SOURCE))
