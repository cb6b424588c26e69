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
from processor_svc.extraction import check_extraction, extraction_argv, finished_frames
from processor_svc.failures import MESSAGES
from processor_svc.media import Limits, MediaRejected, check_limits
from processor_svc.previews import PreviewCollector
from processor_svc.probing import keyframes_suffice, probe
from processor_svc.progress import ProgressThrottle
from processor_svc.receipt import Extracted
from processor_svc.runner import Brake, ToolLimits, run_tool
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
    """This upload event's result: the one an earlier run of it stored (receipt.py), or a new one."""
    with jobdir.job_dir(config.work_dir, str(event.video_id)) as workdir:
        if not ctx.reprocess:
            stored = await receipt.stored_result(storage, ctx.envelope.id, result_key(event), event.video_id, workdir)
            if stored is not None:
                log.info("result_already_stored", frames=stored.frames)
                return stored
        result = await _extract(event, ctx.envelope.id, workdir, config, storage, publish, clock)
    await receipt.write_receipt(storage, ctx.envelope.id, result)
    clock.mark("receipt_written")
    return result


async def _extract(
    event: VideoUploadedV1,
    upload_event: uuid.UUID,
    workdir: Path,
    config: JobConfig,
    storage: Storage,
    publish: Publish,
    clock: JobClock,
) -> Extracted:
    source = workdir / "source"
    await storage.download_to(event.source.key, source)
    clock.mark("downloaded")
    interval = Fraction(str(event.options.interval_seconds))
    max_pixels = config.limits.max_pixels
    info = await probe(source, workdir, max_pixels, config.tools)
    clock.mark("probed")
    frames = check_limits(info, config.limits, interval)
    keyframes_only = await keyframes_suffice(
        source, workdir, info, interval, frames, max_pixels=max_pixels, limits=config.tools
    )
    clock.mark("keyframes_checked")
    out_dir = workdir / "frames"
    out_dir.mkdir()
    argv = extraction_argv(
        source,
        out_dir,
        info=info,
        interval=interval,
        image_format=event.options.image_format,
        frames=frames,
        threads=config.threads,
        keyframes_only=keyframes_only,
        max_pixels=max_pixels,
    )

    async def report(progress: float, frames_done: int) -> None:
        data = VideoProcessingProgressV1(
            video_id=event.video_id, owner_id=event.owner_id, progress=progress, frames_done=frames_done
        )
        try:
            await publish(data)
        except Exception as exc:  # progress is advisory: a lost report must not fail the job
            log.warning("progress_not_published", error=str(exc)[:300])

    throttle = ProgressThrottle(report, float(info.duration))
    brake = Brake()
    ffmpeg = asyncio.ensure_future(run_tool(argv, workdir / "ffmpeg.log", config.tools, throttle.on_line, brake))
    ffmpeg.add_done_callback(lambda _: clock.mark("extracted"))
    log.info("extraction_started", codec=info.codec, frames=frames, keyframes_only=keyframes_only)

    produced = 0

    async def verify(count: int) -> None:
        nonlocal produced
        check_extraction(await ffmpeg, count, frames, info, interval)
        produced = count

    header = ManifestHeader(event.filename, event.options.interval_seconds, event.options.image_format)
    previews = PreviewCollector(workdir / "previews", config.tools)
    frames_out = previews.tap(_first_marked(finished_frames(out_dir, event.options.image_format, ffmpeg, brake), clock))
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
        if not ffmpeg.done():
            ffmpeg.cancel()  # the runner kills ffmpeg's process group
        await asyncio.gather(ffmpeg, return_exceptions=True)
    return Extracted(produced, info.duration, stored.key, stored.size_bytes, stored.sha256, preview_keys)


async def _first_marked(frames: AsyncIterator[Path], clock: JobClock) -> AsyncIterator[Path]:
    async for frame in frames:
        clock.mark("first_frame")
        yield frame


async def _store_previews(event: VideoUploadedV1, images: list[Path], storage: Storage) -> tuple[str, ...]:
    keys = tuple(preview_key(event.video_id, number) for number in range(1, len(images) + 1))
    await asyncio.gather(
        *(storage.put_bytes(key, image.read_bytes(), "image/jpeg") for key, image in zip(keys, images, strict=True))
    )
    return keys
