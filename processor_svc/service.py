"""The frame-extraction job: download, probe, extract, stream the ZIP to S3, publish the outcome (results.py);
or, for a long video, split it into segments that several workers extract (fanout.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import structlog

from contracts import (
    EventData,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoUploadedV1,
)
from processor_svc import fanout, jobdir, receipt, storyboard
from processor_svc.archive import Ending, ManifestHeader
from processor_svc.extraction import FRAMES_DIR, SOURCE_NAME, check_extraction, extraction_argv
from processor_svc.planning import JobConfig, Prepared, prepare
from processor_svc.previews import PREVIEW_COUNT
from processor_svc.progress import ProgressThrottle
from processor_svc.receipt import Extracted
from processor_svc.results import SOURCE, Job, Outcome, Publish, ResultZip, guarded, processed, store_result
from processor_svc.runner import Brake, Completed, run_tool
from processor_svc.segmented import SegmentedExtraction, segment_directory
from processor_svc.segments import Segment
from processor_svc.selection import TIMESTAMPS_FILE, frame_times
from processor_svc.splitting import SplitPlan
from processor_svc.stages import JobClock
from servicekit import objects
from servicekit.bus import MessageContext, Publisher
from servicekit.storage import Storage

log = structlog.get_logger(__name__)


def result_key(event: VideoUploadedV1) -> str:
    return objects.result_key(event.video_id)


async def process_video(
    event: VideoUploadedV1, ctx: MessageContext, config: JobConfig, storage: Storage, publisher: Publisher
) -> Outcome:
    clock = JobClock()
    structlog.contextvars.bind_contextvars(video_id=str(event.video_id), user_id=str(event.owner_id))
    job = Job(event.video_id, event.owner_id, event.filename, ctx.attempt, _publishing(ctx, publisher))
    await job.publish(
        VideoProcessingStartedV1(
            video_id=event.video_id, owner_id=event.owner_id, attempt=ctx.attempt, started_at=datetime.now(UTC)
        )
    )

    async def work() -> Outcome:
        result = await _stored_or_extracted(event, ctx, config, storage, publisher, clock)
        if result is None:
            log.info("video_split", stages=clock.ended)  # its segments' jobs take it from here
            return Outcome("split", stages=clock.ended)
        return await processed(job, storage, ctx.envelope.id, result, clock.elapsed(), clock)

    return await guarded(job, config.timeout_seconds, work())


def _publishing(ctx: MessageContext, publisher: Publisher) -> Publish:
    async def publish(data: EventData) -> None:
        # A job run again for the same upload event (redelivered after a lost ack, retried after a lost confirm)
        # publishes the same outcome event, not a second one: one outcome, one e-mail.
        outcome = isinstance(data, VideoProcessedV1 | VideoFailedV1)
        await publisher.publish(ctx.follow_up(data, SOURCE, once_per_cause=outcome))

    return publish


async def _stored_or_extracted(
    event: VideoUploadedV1,
    ctx: MessageContext,
    config: JobConfig,
    storage: Storage,
    publisher: Publisher,
    clock: JobClock,
) -> Extracted | None:
    """This upload event's result: the one an earlier run of it stored (receipt.py), or a new one; None when the
    job was split into segments for several workers (fanout.py), whose last one publishes the outcome. The source
    is downloaded while the receipt is looked up: a stored result is the rare case."""
    publish = _publishing(ctx, publisher)
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
        job = await prepare(event, source.sha256, workdir, config, clock)
        if job.parts:
            await fanout.request_segments(_split_plan(event, ctx, job, clock), ctx, storage, publisher)
            return None
        return await _extract(event, ctx.envelope.id, job, workdir, config, storage, publish, clock)


def _split_plan(event: VideoUploadedV1, ctx: MessageContext, job: Prepared, clock: JobClock) -> SplitPlan:
    return SplitPlan(
        # An operator's reprocessing is a run of its own: nothing an earlier run stored is taken for it.
        run_id=uuid.uuid4() if ctx.reprocess else ctx.envelope.id,
        upload_event=ctx.envelope.id,
        video_id=event.video_id,
        owner_id=event.owner_id,
        filename=event.filename,
        options=event.options,
        source_sha256=job.source_sha256,
        info=job.info,
        selection=job.selection,
        keyframes_only=job.keyframes_only,
        command=job.argv,
        segments=job.parts,
        started_at=time.time() - clock.elapsed(),
    )


async def _extract(
    event: VideoUploadedV1,
    upload_event: uuid.UUID,
    job: Prepared,
    workdir: Path,
    config: JobConfig,
    storage: Storage,
    publish: Publish,
    clock: JobClock,
) -> Extracted:
    out_dir = workdir / FRAMES_DIR
    out_dir.mkdir()
    single = len(job.segments) == 1
    # One ffmpeg reports its progress over the range (its -progress lines); segments side by side, by the share
    # of frames handed over (_observed).
    throttle = _progress(event, publish, float(job.selection.span.length))
    commands = {} if single else _segment_commands(event, job, config)

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
    by_frames = None if single else throttle
    frames = _observed(extraction.frames(), clock, by_frames, job.selection.frames)
    result = ResultZip(event.video_id, upload_event, header, job.info.duration, finish)
    try:
        return await store_result(frames, result, storage, workdir, config.tools, config.max_result_bytes, clock)
    finally:
        await extraction.cancel()


def _segment_commands(event: VideoUploadedV1, job: Prepared, config: JobConfig) -> dict[Segment, list[str]]:
    """Each segment's command, made once: run as it is, and listed in the manifest."""
    return {
        segment: extraction_argv(
            info=job.info, options=event.options, selection=job.selection, threads=1,
            keyframes_only=job.keyframes_only, max_pixels=config.limits.max_pixels,
            previews=max(0, min(segment.count, PREVIEW_COUNT - segment.first)),
            segment=segment, out_dir=f"{FRAMES_DIR}/{segment_directory(index)}",
        )
        for index, segment in enumerate(job.segments)
    }  # fmt: skip


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
