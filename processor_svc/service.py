"""The frame-extraction job: download, probe, extract, stream the ZIP to S3, publish the outcome.

Bad media ends in `video.failed.v1` (returned normally, so the message is acked: retrying cannot help).
Anything else (S3, broker, disk) raises, and the consumer wrapper retries with backoff, then parks the job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import structlog

from contracts import (
    EventData,
    FailureCode,
    ObjectRef,
    ProcessingError,
    ResultObject,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoUploadedV1,
)
from processor_svc import jobdir, receipt
from processor_svc.archive import ManifestHeader, capped, zip_of_frames
from processor_svc.extraction import FRAMES_AHEAD, check_extraction, extraction_argv
from processor_svc.failures import MESSAGES
from processor_svc.media import Limits, MediaRejected, check_limits
from processor_svc.previews import PreviewCollector
from processor_svc.probing import inspect
from processor_svc.progress import ProgressThrottle
from processor_svc.receipt import Extracted
from processor_svc.runner import Brake, Completed, ToolLimits, run_tool
from processor_svc.segmented import SegmentedExtraction
from processor_svc.segments import Segment, keyframes_cover_samples, min_segment_seconds, plan_segments
from processor_svc.stages import JobClock
from servicekit import objects
from servicekit.bus import MessageContext, Publisher
from servicekit.objects import preview_key
from servicekit.storage import Storage

log = structlog.get_logger(__name__)

SOURCE = "framepipe/processor_svc"

Publish = Callable[[EventData], Awaitable[None]]


@dataclass(frozen=True)
class JobConfig:
    work_dir: Path
    timeout_seconds: float
    threads: int
    limits: Limits
    tools: ToolLimits
    max_result_bytes: int


@dataclass(frozen=True)
class Outcome:
    """What the job edge counts: `label` is `processed` or the failure code."""

    label: str
    frames: int = 0
    bytes: int = 0
    stages: dict[str, float] = field(default_factory=dict)  # when each stage ended (stages.py)


def result_key(event: VideoUploadedV1) -> str:
    return objects.result_key(event.video_id)


async def process_video(
    event: VideoUploadedV1, ctx: MessageContext, config: JobConfig, storage: Storage, publisher: Publisher
) -> Outcome:
    clock = JobClock()
    structlog.contextvars.bind_contextvars(video_id=str(event.video_id), user_id=str(event.owner_id))

    async def publish(data: EventData) -> None:
        # A job run again for the same upload event (redelivered after a lost ack, retried after a lost confirm)
        # publishes the same outcome event, not a second one: one outcome, one e-mail.
        outcome = isinstance(data, VideoProcessedV1 | VideoFailedV1)
        await publisher.publish(ctx.follow_up(data, SOURCE, once_per_cause=outcome))

    await publish(
        VideoProcessingStartedV1(
            video_id=event.video_id, owner_id=event.owner_id, attempt=ctx.attempt, started_at=datetime.now(UTC)
        )
    )
    deadline = asyncio.timeout(config.timeout_seconds)
    try:
        async with deadline:
            result = await _stored_or_extracted(event, ctx, config, storage, publish, clock)
    except MediaRejected as rejected:
        return await _fail(event, ctx, publish, rejected.code, rejected.detail)
    except TimeoutError:
        if not deadline.expired():
            raise  # a network timeout inside the job: transient
        detail = f"the job ran longer than {config.timeout_seconds:.0f} s"
        return await _fail(event, ctx, publish, FailureCode.TIMEOUT, detail)
    await publish(
        VideoProcessedV1(
            video_id=event.video_id,
            owner_id=event.owner_id,
            frame_count=result.frames,
            duration_seconds=round(float(result.duration), 6),
            result=ResultObject(
                bucket=storage.bucket, key=result.stored_key, size_bytes=result.size_bytes, sha256=result.sha256
            ),
            processing_seconds=round(clock.elapsed(), 3),
            finished_at=datetime.now(UTC),
            filename=event.filename,
            previews=tuple(ObjectRef(bucket=storage.bucket, key=key) for key in result.previews),
        )
    )
    clock.mark("published")
    log.info("video_processed", frames=result.frames, size_bytes=result.size_bytes, stages=clock.ended)
    return Outcome("processed", result.frames, result.size_bytes, clock.ended)


async def _fail(
    event: VideoUploadedV1, ctx: MessageContext, publish: Publish, code: FailureCode, detail: str
) -> Outcome:
    """The user gets the code's fixed sentence; the detail, which may quote a tool's stderr, stays in the log."""
    log.warning("video_failed", code=code.value, reason=detail)
    await publish(
        VideoFailedV1(
            video_id=event.video_id,
            owner_id=event.owner_id,
            error=ProcessingError(code=code, message=MESSAGES[code]),
            attempts=ctx.attempt,
            failed_at=datetime.now(UTC),
            filename=event.filename,
        )
    )
    return Outcome(code.value)


async def _stored_or_extracted(
    event: VideoUploadedV1,
    ctx: MessageContext,
    config: JobConfig,
    storage: Storage,
    publish: Publish,
    clock: JobClock,
) -> Extracted:
    """This upload event's result: the one an earlier run of it stored (receipt.py), or a new one. The source is
    downloaded while the receipt is looked up: a stored result is the rare case."""
    with jobdir.job_dir(config.work_dir, str(event.video_id)) as workdir:
        source = workdir / "source"
        download = asyncio.ensure_future(storage.download_to(event.source.key, source))
        try:
            if not ctx.reprocess:
                stored = await receipt.stored_result(
                    storage, ctx.envelope.id, result_key(event), event.video_id, workdir
                )
                if stored is not None:
                    log.info("result_already_stored", frames=stored.frames)
                    return stored
            await download
        finally:
            if not download.done():
                download.cancel()
            await asyncio.gather(download, return_exceptions=True)
        clock.mark("downloaded")
        result = await _extract(event, ctx.envelope.id, source, config, storage, publish, clock)
    await receipt.write_receipt(storage, ctx.envelope.id, result)
    clock.mark("receipt_written")
    return result


async def _extract(
    event: VideoUploadedV1,
    upload_event: uuid.UUID,
    source: Path,
    config: JobConfig,
    storage: Storage,
    publish: Publish,
    clock: JobClock,
) -> Extracted:
    workdir = source.parent
    interval = Fraction(str(event.options.interval_seconds))
    info, packets = await inspect(source, workdir, config.limits.max_pixels, config.tools)
    clock.mark("probed")
    frames = check_limits(info, config.limits, interval)
    keyframes_only = keyframes_cover_samples(packets, info, interval, frames)
    # The job's CPUs as that many one-thread processes over segments, or as the threads of one pass.
    segments = plan_segments(
        packets,
        info,
        interval,
        frames,
        processes=config.threads,
        max_samples=FRAMES_AHEAD,  # frames of at most `threads` segments wait on disk (segmented.py)
        min_seconds=min_segment_seconds(info),
    )
    clock.mark("keyframes_checked")
    threads = config.threads if len(segments) == 1 else 1

    async def run(segment: Segment, directory: Path, brake: Brake | None) -> Completed:
        argv = extraction_argv(
            source,
            directory,
            info=info,
            interval=interval,
            image_format=event.options.image_format,
            segment=segment,
            threads=threads,
            keyframes_only=keyframes_only,
            max_pixels=config.limits.max_pixels,
        )
        return await run_tool(argv, directory.with_suffix(".log"), config.tools, None, brake)

    def check(segment: Segment, completed: Completed, produced: int) -> None:
        check_extraction(completed, produced, segment.count, info, interval, segment.first)

    out_dir = workdir / "frames"
    out_dir.mkdir()
    extraction = SegmentedExtraction(segments, run, check, out_dir, event.options.image_format, config.threads)
    log.info(
        "extraction_started", codec=info.codec, frames=frames, keyframes_only=keyframes_only, segments=len(segments)
    )

    async def verify(count: int) -> None:
        clock.mark("extracted")  # every segment has exited and was checked

    header = ManifestHeader(event.filename, event.options.interval_seconds, event.options.image_format)
    previews = PreviewCollector(workdir / "previews", config.tools)
    progress = _progress(event, publish, frames)
    frames_out = previews.tap(_observed(extraction.frames(), clock, progress, frames))
    chunks = capped(zip_of_frames(frames_out, header, interval, info.duration, verify), config.max_result_bytes)
    try:
        stored = await storage.put_stream(
            result_key(event), chunks, content_type="application/zip", tags=receipt.creation_tags(upload_event)
        )
        clock.mark("stored")
        preview_keys = await _store_previews(event, await previews.images(), storage)
        clock.mark("previews_stored")
    finally:
        previews.cancel()
        await extraction.cancel()
    return Extracted(extraction.produced, info.duration, stored.key, stored.size_bytes, stored.sha256, preview_keys)


def _progress(event: VideoUploadedV1, publish: Publish, frames: int) -> ProgressThrottle:
    async def report(progress: float, frames_done: int) -> None:
        data = VideoProcessingProgressV1(
            video_id=event.video_id, owner_id=event.owner_id, progress=progress, frames_done=frames_done
        )
        try:
            await publish(data)
        except Exception as exc:  # progress is advisory: a lost report must not fail the job
            log.warning("progress_not_published", error=str(exc)[:300])

    return ProgressThrottle(report, float(frames))  # its "duration" is counted in frames here


async def _observed(
    frames: AsyncIterator[Path], clock: JobClock, progress: ProgressThrottle, total: int
) -> AsyncIterator[Path]:
    """Frames on their way into the ZIP: progress is the share of them handed over."""
    async for frame in frames:
        clock.mark("first_frame")
        progress.frames_done += 1
        await progress.update(progress.frames_done / total)
        yield frame


async def _store_previews(event: VideoUploadedV1, images: list[Path], storage: Storage) -> tuple[str, ...]:
    keys = tuple(preview_key(event.video_id, number) for number in range(1, len(images) + 1))
    await asyncio.gather(
        *(storage.put_bytes(key, image.read_bytes(), "image/jpeg") for key, image in zip(keys, images, strict=True))
    )
    return keys
