"""The events video_svc consumes, by queue: event type -> handler."""

from __future__ import annotations

from collections.abc import Mapping

from contracts import (
    UserDeletedV1,
    VideoDeletedV1,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoSegmentRequestedV1,
    VideoUploadedV1,
)
from servicekit.bus import Handler, MessageContext
from servicekit.storage import Storage
from video_svc import lifecycle


def processing_updates(storage: Storage) -> Mapping[str, Handler]:
    async def started(event: VideoProcessingStartedV1, ctx: MessageContext) -> None:
        await lifecycle.on_started(ctx.db, event)

    async def progress(event: VideoProcessingProgressV1, ctx: MessageContext) -> None:
        await lifecycle.on_progress(ctx.db, event)

    async def processed(event: VideoProcessedV1, ctx: MessageContext) -> None:
        await lifecycle.on_processed(ctx.db, storage, event)

    async def failed(event: VideoFailedV1, ctx: MessageContext) -> None:
        await lifecycle.on_failed(ctx.db, event)

    return {
        VideoProcessingStartedV1.event_type: started,
        VideoProcessingProgressV1.event_type: progress,
        VideoProcessedV1.event_type: processed,
        VideoFailedV1.event_type: failed,
    }


def deleted_objects(storage: Storage) -> Mapping[str, Handler]:
    async def deleted(event: VideoDeletedV1, ctx: MessageContext) -> None:
        await lifecycle.on_deleted(ctx.db, storage, event)

    return {VideoDeletedV1.event_type: deleted}


def user_deletions(storage: Storage) -> Mapping[str, Handler]:
    async def user_deleted(event: UserDeletedV1, ctx: MessageContext) -> None:
        await lifecycle.on_user_deleted(ctx, storage, event)

    return {UserDeletedV1.event_type: user_deleted}


DEAD_JOBS: Mapping[str, Handler] = {
    VideoUploadedV1.event_type: lifecycle.on_dead_job,
    VideoSegmentRequestedV1.event_type: lifecycle.on_dead_job,
}
