"""How a job ends, whichever worker ends it (the one that extracted the whole video, or the one that gathered a
long video's segments): the ZIP streamed to S3 with its previews, then one outcome event, `video.processed.v1`
or `video.failed.v1`, whose id derives from the upload event, so that the video has one outcome and its owner
one e-mail whatever is run again.

Bad media ends in `video.failed.v1` (returned normally, so the message is acked: retrying cannot help). Anything
else (S3, broker, disk) raises, and the consumer wrapper retries with backoff, then parks the job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import structlog

from contracts import (
    EventData,
    FailureCode,
    ObjectRef,
    ProcessingError,
    ResultObject,
    VideoFailedV1,
    VideoProcessedV1,
)
from processor_svc import receipt
from processor_svc.archive import Ending, ManifestHeader, capped, zip_of_frames
from processor_svc.failures import MESSAGES
from processor_svc.media import MediaRejected
from processor_svc.previews import PreviewCollector
from processor_svc.receipt import Extracted
from processor_svc.runner import ToolLimits
from processor_svc.stages import JobClock
from servicekit import objects
from servicekit.storage import Storage

log = structlog.get_logger(__name__)

SOURCE = "framepipe/processor_svc"

Publish = Callable[[EventData], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What the job edge counts: `label` is `processed`, a failure code, or what became of the job instead
    (`split` into segments, a `segment` stored, a `stale` request dropped)."""

    label: str
    frames: int = 0
    bytes: int = 0
    stages: dict[str, float] = field(default_factory=dict)  # when each stage ended (stages.py)


@dataclass(frozen=True)
class Job:
    """The video a job is about, and how its events are published (outcomes once per upload event)."""

    video_id: uuid.UUID
    owner_id: uuid.UUID
    filename: str
    attempt: int
    publish: Publish


async def guarded(job: Job, timeout_seconds: float, work: Coroutine[Any, Any, Outcome]) -> Outcome:
    """Run `work` under the job's deadline: media it rejects, and a job over its time, end the video as failed."""
    deadline = asyncio.timeout(timeout_seconds)
    try:
        async with deadline:
            return await work
    except MediaRejected as rejected:
        return await fail(job, rejected.code, rejected.detail, rejected.message)
    except TimeoutError:
        if not deadline.expired():
            raise  # a network timeout inside the job: transient
        return await fail(job, FailureCode.TIMEOUT, f"the job ran longer than {timeout_seconds:.0f} s")


async def fail(job: Job, code: FailureCode, detail: str, message: str | None = None) -> Outcome:
    """The user gets a fixed sentence (the code's, or a more precise one); the detail, which may quote a tool's
    stderr, stays in the log."""
    log.warning("video_failed", code=code.value, reason=detail)
    await job.publish(
        VideoFailedV1(
            video_id=job.video_id,
            owner_id=job.owner_id,
            error=ProcessingError(code=code, message=message or MESSAGES[code]),
            attempts=job.attempt,
            failed_at=datetime.now(UTC),
            filename=job.filename,
        )
    )
    return Outcome(code.value)


async def processed(
    job: Job, storage: Storage, run: uuid.UUID, result: Extracted, seconds: float, clock: JobClock
) -> Outcome:
    """Publish the outcome, and write the ZIP's receipt meanwhile: a run again of `run` that finds the ZIP without
    its receipt (cut off in between) reads it back instead (receipt.py), and publishes the very same event."""
    event = _processed_event(job, storage.bucket, result, seconds)

    async def published() -> None:
        await job.publish(event)
        clock.mark("published")

    async def receipt_written() -> None:
        await receipt.write_receipt(storage, run, result)
        clock.mark("receipt_written")

    for failure in await asyncio.gather(published(), receipt_written(), return_exceptions=True):
        if isinstance(failure, BaseException):
            raise failure
    log.info("video_processed", frames=result.frames, size_bytes=result.size_bytes, stages=clock.ended)
    return Outcome("processed", result.frames, result.size_bytes, clock.ended)


def _processed_event(job: Job, bucket: str, result: Extracted, seconds: float) -> VideoProcessedV1:
    return VideoProcessedV1(
        video_id=job.video_id,
        owner_id=job.owner_id,
        frame_count=result.frames,
        duration_seconds=round(float(result.duration), 6),
        result=ResultObject(bucket=bucket, key=result.stored_key, size_bytes=result.size_bytes, sha256=result.sha256),
        processing_seconds=round(seconds, 3),
        finished_at=datetime.now(UTC),
        filename=job.filename,
        previews=tuple(ObjectRef(bucket=bucket, key=key) for key in result.previews),
    )


@dataclass(frozen=True)
class ResultZip:
    """What goes into a video's ZIP besides the frames, and where it goes."""

    video_id: uuid.UUID
    run: uuid.UUID  # the receipt's event: a run again of it finds the ZIP stored (receipt.py)
    header: ManifestHeader
    duration: Fraction
    finish: Callable[[list[str]], Awaitable[Ending]]


async def store_result(
    frames: AsyncIterator[Path],
    result: ResultZip,
    storage: Storage,
    workdir: Path,
    tools: ToolLimits,
    max_bytes: int,
    clock: JobClock,
) -> Extracted:
    """Stream the ZIP of `frames` to the video's result key (at most `max_bytes`), with previews of the first ones
    stored as each is made (`processed` writes its receipt)."""
    video_id = result.video_id

    async def store_preview(number: int, image: Path) -> None:
        data = image.read_bytes()  # noqa: ASYNC240 - a thumbnail of a few KiB
        await storage.put_bytes(objects.preview_key(video_id, number), data, "image/jpeg")

    previews = PreviewCollector(workdir / "previews", tools, store=store_preview, made_in=workdir)
    counted = [0]

    async def counting(source: AsyncIterator[Path]) -> AsyncIterator[Path]:
        async for frame in source:
            counted[0] += 1
            yield frame

    archive = zip_of_frames(counting(previews.tap(frames)), result.header, result.duration, result.finish)
    try:
        stored = await storage.put_stream(
            objects.result_key(video_id),
            capped(archive, max_bytes),
            content_type="application/zip",
            tags=receipt.creation_tags(result.run),
        )
        clock.mark("stored")
        images = await previews.images()  # stored as each was made, while the ZIP went up
        clock.mark("previews_stored")
    finally:
        previews.cancel()
    keys = tuple(objects.preview_key(video_id, number) for number in range(1, len(images) + 1))
    return Extracted(counted[0], result.duration, stored.key, stored.size_bytes, stored.sha256, keys)
