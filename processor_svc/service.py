"""The frame-extraction job: download, probe, extract, stream the ZIP to S3, publish the outcome.

Bad media ends in `video.failed.v1` (returned normally, so the message is acked: retrying cannot help).
Anything else (S3, broker, disk) raises, and the consumer wrapper retries with backoff, then parks the job."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from processor_svc import jobdir, receipt, storyboard
from processor_svc.archive import Ending, ManifestHeader, capped, zip_of_frames
from processor_svc.extraction import FRAMES_AHEAD, FRAMES_DIR, SOURCE_NAME, check_extraction, extraction_argv
from processor_svc.failures import MESSAGES
from processor_svc.media import Limits, MediaInfo, MediaRejected, check_limits
from processor_svc.previews import PreviewCollector
from processor_svc.probing import black_opening, inspect
from processor_svc.progress import ProgressThrottle
from processor_svc.receipt import Extracted
from processor_svc.runner import Brake, Completed, ToolLimits, run_tool
from processor_svc.segmented import SegmentedExtraction, segment_directory
from processor_svc.segments import Segment, keyframes_cover_samples, min_segment_seconds, plan_segments, whole
from processor_svc.selection import TIMESTAMPS_FILE, Plan, frame_times, plan, planned_frames, requested_range
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
        return await _fail(event, ctx, publish, rejected.code, rejected.detail, rejected.message)
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
    event: VideoUploadedV1,
    ctx: MessageContext,
    publish: Publish,
    code: FailureCode,
    detail: str,
    message: str | None = None,
) -> Outcome:
    """The user gets a fixed sentence (the code's, or a more precise one); the detail, which may quote a tool's
    stderr, stays in the log."""
    log.warning("video_failed", code=code.value, reason=detail)
    await publish(
        VideoFailedV1(
            video_id=event.video_id,
            owner_id=event.owner_id,
            error=ProcessingError(code=code, message=message or MESSAGES[code]),
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
        download = asyncio.ensure_future(storage.download_to(event.source.key, workdir / SOURCE_NAME))
        try:
            if not ctx.reprocess:
                stored = await receipt.stored_result(
                    storage, ctx.envelope.id, result_key(event), event.video_id, workdir
                )
                if stored is not None:
                    log.info("result_already_stored", frames=stored.frames)
                    return stored
            source = await download
        finally:
            if not download.done():
                download.cancel()
            await asyncio.gather(download, return_exceptions=True)
        clock.mark("downloaded")
        result = await _extract(event, ctx.envelope.id, source.sha256, workdir, config, storage, publish, clock)
    await receipt.write_receipt(storage, ctx.envelope.id, result)
    clock.mark("receipt_written")
    return result


@dataclass(frozen=True)
class Prepared:
    """A job's source, looked at: what it is, which frames the options take, and how."""

    info: MediaInfo
    selection: Plan
    source_sha256: str
    argv: list[str]  # the single pass: what the manifest shows (segments give the very same frames)
    sheet: storyboard.Layout | None
    keyframes_only: bool
    segments: list[Segment]  # one (the single pass), or an interval selection's samples split (segments.py)


async def _prepare(
    event: VideoUploadedV1, source_sha256: str, workdir: Path, config: JobConfig, clock: JobClock
) -> Prepared:
    options, max_pixels, tools = event.options, config.limits.max_pixels, config.tools
    info, packets = await inspect(workdir / SOURCE_NAME, workdir, max_pixels, tools)
    clock.mark("probed")
    black_end = None
    if options.skip_black_start:
        black_end = await black_opening(workdir, info, max_pixels=max_pixels, threads=config.threads, limits=tools)
    selection = plan(options, info, requested_range(options, info, black_end), config.limits.max_frames)
    check_limits(info, config.limits, planned_frames(selection, info))
    step, span = selection.step, selection.span
    keyframes_only = step is not None and keyframes_cover_samples(packets, info, step, selection.frames, span.start)
    segments = [whole(selection.frames)]
    if step is not None and span.start == 0 and not options.storyboard:
        segments = plan_segments(
            packets, info, step, selection.frames,
            processes=config.threads,
            max_samples=FRAMES_AHEAD,  # frames of at most `threads` segments wait on disk (segmented.py)
            min_seconds=min_segment_seconds(info),
        )  # fmt: skip
    clock.mark("keyframes_checked")
    thumbnails = storyboard.thumbnail_filter(options, info) if options.storyboard else None
    argv = extraction_argv(
        info=info, options=options, selection=selection, threads=config.threads, keyframes_only=keyframes_only,
        max_pixels=max_pixels, thumbnails=thumbnails,
    )  # fmt: skip
    sheet = storyboard.layout(options, info, selection.frames) if options.storyboard else None
    log.info("extraction_planned", codec=info.codec, mode=selection.mode.value, frames=selection.frames,
             start=float(span.start), end=float(span.end), keyframes_only=keyframes_only,
             segments=len(segments))  # fmt: skip
    return Prepared(info, selection, source_sha256, argv, sheet, keyframes_only, segments)


async def _extract(
    event: VideoUploadedV1,
    upload_event: uuid.UUID,
    source_sha256: str,
    workdir: Path,
    config: JobConfig,
    storage: Storage,
    publish: Publish,
    clock: JobClock,
) -> Extracted:
    job = await _prepare(event, source_sha256, workdir, config, clock)
    out_dir = workdir / FRAMES_DIR
    out_dir.mkdir()
    single = len(job.segments) == 1
    # One ffmpeg reports its progress over the range (its -progress lines); segments side by side, by the share
    # of frames handed over (_observed).
    throttle = _progress(event, publish, float(job.selection.span.length))
    # Each segment's command, made once: run as it is, and listed in the manifest.
    commands = {
        segment: extraction_argv(
            info=job.info, options=event.options, selection=job.selection, threads=1,
            keyframes_only=job.keyframes_only, max_pixels=config.limits.max_pixels,
            segment=segment, out_dir=f"{FRAMES_DIR}/{segment_directory(index)}",
        )
        for index, segment in enumerate(job.segments)
    } if not single else {}  # fmt: skip

    async def run(segment: Segment, directory: Path, brake: Brake | None) -> Completed:
        if single:
            return await run_tool(job.argv, workdir / "ffmpeg.log", config.tools, throttle.on_line, brake, cwd=workdir)
        log_file = directory.with_suffix(".log")
        return await run_tool(commands[segment], log_file, config.tools, None, brake, cwd=workdir)

    def check(segment: Segment, completed: Completed, produced: int) -> None:
        check_extraction(completed, produced, job.selection, job.info, None if single else segment)

    extraction = SegmentedExtraction(job.segments, run, check, out_dir, event.options.image_format, config.threads)

    async def finish(files: list[str]) -> Ending:
        clock.mark("extracted")  # every ffmpeg has exited and was checked
        ending = await _ending(workdir, job, files, config)
        if single:
            return ending
        return dataclasses.replace(ending, fields={**ending.fields, "ffmpeg_segments": list(commands.values())})

    header = ManifestHeader(event.filename, event.options, job.selection.span, job.source_sha256, job.argv)

    async def store_preview(number: int, image: Path) -> None:
        data = image.read_bytes()  # noqa: ASYNC240 - a thumbnail of a few KiB
        await storage.put_bytes(preview_key(event.video_id, number), data, "image/jpeg")

    previews = PreviewCollector(workdir / "previews", config.tools, store=store_preview)
    by_frames = None if single else throttle
    frames_out = previews.tap(_observed(extraction.frames(), clock, by_frames, job.selection.frames))
    chunks = capped(zip_of_frames(frames_out, header, job.info.duration, finish), config.max_result_bytes)
    try:
        stored = await storage.put_stream(
            result_key(event), chunks, content_type="application/zip", tags=receipt.creation_tags(upload_event)
        )
        clock.mark("stored")
        images = await previews.images()  # stored as each was made, while the ZIP went up
        preview_keys = tuple(preview_key(event.video_id, number) for number in range(1, len(images) + 1))
        clock.mark("previews_stored")
    finally:
        previews.cancel()
        await extraction.cancel()
    return Extracted(extraction.produced, job.info.duration, stored.key, stored.size_bytes, stored.sha256, preview_keys)


def _progress(event: VideoUploadedV1, publish: Publish, seconds: float) -> ProgressThrottle:
    """Throttled progress reports over a range of `seconds` (what ffmpeg's -progress lines measure)."""

    async def report(progress: float, frames_done: int) -> None:
        data = VideoProcessingProgressV1(
            video_id=event.video_id, owner_id=event.owner_id, progress=progress, frames_done=frames_done
        )
        try:
            await publish(data)
        except Exception as exc:  # progress is advisory: a lost report must not fail the job
            log.warning("progress_not_published", error=str(exc)[:300])

    return ProgressThrottle(report, seconds)


async def _observed(
    frames: AsyncIterator[Path], clock: JobClock, by_frames: ProgressThrottle | None, total: int
) -> AsyncIterator[Path]:
    """Frames on their way into the ZIP; with `by_frames`, progress is the share of the `total` handed over."""
    async for frame in frames:
        clock.mark("first_frame")
        if by_frames is not None:
            by_frames.frames_done += 1
            await by_frames.update(by_frames.frames_done / total)
        yield frame


async def _ending(workdir: Path, job: Prepared, files: list[str], config: JobConfig) -> Ending:
    """Once every frame is out: their times, and the storyboard if asked for."""
    printed = workdir / TIMESTAMPS_FILE
    lines = printed.read_text("utf-8", "replace").splitlines() if printed.exists() else []
    times = frame_times(job.selection, len(files), lines)
    if job.sheet is None:
        return Ending(times)
    made = await storyboard.storyboard_files(
        workdir, job.sheet, files, times, job.selection.span.end,
        max_pixels=config.limits.max_pixels, limits=config.tools,
    )  # fmt: skip
    return Ending(times, made, {"storyboard": storyboard.DIRECTORY if made else None})
