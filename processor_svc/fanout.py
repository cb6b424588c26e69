"""A long video across several workers: the job that split it requests each segment as an event of its own
(`video.segment.requested.v1`); each segment's job extracts the segment's frames into a ZIP of its own under the
video's prefix (servicekit/objects.py); the job that finds every segment stored gathers them, in order, into the
video's ZIP and publishes the video's one outcome.

- One gathering: of the jobs that find every segment stored, the one that creates the assembly claim (an S3
  conditional write) gathers; the others are done. The claim names the request that made it, so a redelivery of
  that request (its worker died while gathering) gathers again.
- One outcome: its event id derives from the upload event (results.py), whichever job publishes it, and a stored
  result's receipt is found again instead of gathering twice.
- A segment that fails for a transient reason is retried alone (its request's retries); bad media in any segment
  fails the video at once; a segment whose retries run out is dead-lettered and video_svc fails the video.
- Every segment's frames are numbered from where it starts, so the video's ZIP numbers them continuously, and its
  manifest lists each segment's command (`ffmpeg_segments`) beside the single pass they stand for."""

from __future__ import annotations

import asyncio
import json
import time
import zipfile
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import structlog

from contracts import (
    EventData,
    FailureCode,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoSegmentRequestedV1,
)
from processor_svc import jobdir, receipt
from processor_svc.archive import MANIFEST_NAME, Ending, ManifestHeader, capped, zip_of_frames
from processor_svc.extraction import FRAMES_DIR, SOURCE_NAME, check_extraction, extraction_argv
from processor_svc.media import MediaRejected
from processor_svc.planning import JobConfig
from processor_svc.results import SOURCE, Job, Outcome, ResultZip, guarded, processed, store_result
from processor_svc.runner import Brake, Completed, run_tool
from processor_svc.segmented import SegmentedExtraction
from processor_svc.segments import Segment
from processor_svc.splitting import SplitPlan
from processor_svc.stages import JobClock
from servicekit import objects
from servicekit.bus import MessageContext, Publisher, once_id
from servicekit.storage import Storage

log = structlog.get_logger(__name__)

RUN_TAG = "framepipe-run"  # on a segment's ZIP: the run it was made for
SEGMENT_ZIP = "segment.zip"


async def request_segments(plan: SplitPlan, ctx: MessageContext, storage: Storage, publisher: Publisher) -> None:
    """Store the plan (unless this run's is stored: a redelivered job keeps the plan its segments follow) and
    request every segment, each request with an id of its own derived from the run."""
    stored = await stored_plan(storage, plan)
    if stored is None:
        # A new run: what an earlier run left (its segments, its claim) must not be taken for this one's.
        await storage.delete(*objects.segment_keys(plan.video_id))
        await storage.put_bytes(objects.segment_plan_key(plan.video_id), plan.to_json(), "application/json")
    else:
        plan = stored
    for index in range(len(plan.segments)):
        request = VideoSegmentRequestedV1(
            video_id=plan.video_id, owner_id=plan.owner_id, run_id=plan.run_id, index=index,
            segments=len(plan.segments),
        )  # fmt: skip
        name = f"{request.event_type}/{plan.run_id}/{index}"
        await publisher.publish(ctx.follow_up(request, SOURCE, event_id=once_id(plan.upload_event, name)))
    log.info("segments_requested", segments=len(plan.segments), run=str(plan.run_id))


async def stored_plan(storage: Storage, wanted: SplitPlan | VideoSegmentRequestedV1) -> SplitPlan | None:
    """The stored plan of the same video and run, if there is one."""
    stored = await storage.read_if_exists(objects.segment_plan_key(wanted.video_id))
    if stored is None:
        return None
    plan = SplitPlan.from_json(stored)
    same = plan.run_id == wanted.run_id and plan.owner_id == wanted.owner_id
    return plan if same else None


async def process_segment(
    event: VideoSegmentRequestedV1,
    ctx: MessageContext,
    config: JobConfig,
    storage: Storage,
    publisher: Publisher,
) -> Outcome:
    structlog.contextvars.bind_contextvars(video_id=str(event.video_id), segment=event.index)
    plan = await stored_plan(storage, event)
    if plan is None or len(plan.segments) != event.segments:
        log.info("segment_request_stale", run=str(event.run_id))  # a run that was replaced, or is finished
        return Outcome("stale")

    async def publish(data: EventData) -> None:
        # The video's outcome is once per upload event, whichever segment's job ends it.
        outcome = isinstance(data, VideoProcessedV1 | VideoFailedV1)
        event_id = once_id(plan.upload_event, data.event_type) if outcome else None
        await publisher.publish(ctx.follow_up(data, SOURCE, event_id=event_id))

    job = Job(plan.video_id, plan.owner_id, plan.filename, ctx.attempt, publish)
    return await guarded(job, config.timeout_seconds, _segment_job(plan, event.index, ctx, config, storage, job))


async def _segment_job(
    plan: SplitPlan, index: int, ctx: MessageContext, config: JobConfig, storage: Storage, job: Job
) -> Outcome:
    clock = JobClock()
    key = objects.segment_key(plan.video_id, index)
    if ((await storage.tags_of(key)) or {}).get(RUN_TAG) != str(plan.run_id):
        await _extract_segment(plan, index, config, storage, clock)
    done = await _stored_segments(plan, storage)
    await _report(job, plan, done)
    if len(done) < len(plan.segments) or not await _claim(plan, ctx, storage):
        return Outcome("segment", stages=clock.ended)
    result = await _gather(plan, config, storage, clock)
    outcome = await processed(job, storage, plan.run_id, result, time.time() - plan.started_at, clock)
    await storage.delete(*objects.segment_keys(plan.video_id))
    return outcome


async def _extract_segment(plan: SplitPlan, index: int, config: JobConfig, storage: Storage, clock: JobClock) -> None:
    """The segment's frames, numbered from its first sample on, into a ZIP of its own (its manifest lists each
    frame's time and hash, and the command that made them)."""
    segment = plan.segments[index]
    with jobdir.job_dir(config.work_dir, f"{plan.video_id}-{index}") as workdir:
        source = await storage.download_to(objects.source_key(plan.owner_id, plan.video_id), workdir / SOURCE_NAME)
        if source.sha256 != plan.source_sha256:
            detail = f"the source's SHA-256 is {source.sha256}, not the plan's {plan.source_sha256}"
            raise MediaRejected(FailureCode.INVALID_MEDIA, detail, "The video changed while it was being processed.")
        clock.mark("downloaded")
        argv = extraction_argv(
            info=plan.info, options=plan.options, selection=plan.selection, threads=config.threads,
            keyframes_only=plan.keyframes_only, max_pixels=config.limits.max_pixels, segment=segment,
        )  # fmt: skip

        async def run(_: Segment, directory: Path, brake: Brake | None) -> Completed:
            return await run_tool(argv, workdir / "ffmpeg.log", config.tools, None, brake, cwd=workdir)

        def check(_: Segment, completed: Completed, produced: int) -> None:
            check_extraction(completed, produced, plan.selection, plan.info, segment)

        out_dir = workdir / FRAMES_DIR
        out_dir.mkdir()
        extraction = SegmentedExtraction([segment], run, check, out_dir, plan.options.image_format, 1)

        async def finish(_: list[str]) -> Ending:
            clock.mark("extracted")
            times = [plan.selection.sample_time(k) for k in range(segment.first, segment.end)]
            return Ending(times[: extraction.produced])

        header = ManifestHeader(plan.filename, plan.options, plan.selection.span, plan.source_sha256, argv)
        chunks = capped(zip_of_frames(extraction.frames(), header, plan.info.duration, finish), config.max_result_bytes)
        try:
            await storage.put_stream(
                objects.segment_key(plan.video_id, index), chunks, "application/zip", {RUN_TAG: str(plan.run_id)}
            )
        finally:
            await extraction.cancel()
        clock.mark("stored")
    log.info("segment_stored", frames=extraction.produced, stages=clock.ended)


async def _stored_segments(plan: SplitPlan, storage: Storage) -> list[int]:
    """The segments of this run that are stored (S3 reads its writes: a job sees every segment stored before it)."""
    keys = [objects.segment_key(plan.video_id, index) for index in range(len(plan.segments))]
    tags = await asyncio.gather(*map(storage.tags_of, keys))
    return [index for index, found in enumerate(tags) if found and found.get(RUN_TAG) == str(plan.run_id)]


async def _claim(plan: SplitPlan, ctx: MessageContext, storage: Storage) -> bool:
    """True for the one request that gathers this run's segments (or a redelivery of it)."""
    key = objects.assembly_claim_key(plan.video_id)
    mine = f"{plan.run_id} {ctx.envelope.id}".encode()
    if await storage.create(key, mine, "text/plain"):
        return True
    return await storage.read(key) == mine


async def _report(job: Job, plan: SplitPlan, done: list[int]) -> None:
    frames = sum(plan.segments[index].count for index in done)
    data = VideoProcessingProgressV1(
        video_id=plan.video_id, owner_id=plan.owner_id, progress=frames / plan.selection.frames, frames_done=frames
    )
    try:
        await job.publish(data)
    except Exception as exc:  # progress is advisory: a lost report must not fail the job
        log.warning("progress_not_published", error=str(exc)[:300])


async def _gather(plan: SplitPlan, config: JobConfig, storage: Storage, clock: JobClock) -> receipt.Extracted:
    """Every segment's frames, in order, into the video's ZIP: one segment's ZIP on disk at a time."""
    with jobdir.job_dir(config.work_dir, f"{plan.video_id}-gather") as workdir:
        key = objects.result_key(plan.video_id)
        stored = await receipt.stored_result(storage, plan.run_id, key, plan.video_id, workdir)
        if stored is not None:
            return stored  # gathered before the outcome could be published
        times: list[Fraction] = []
        commands: list[list[str]] = []

        async def frames() -> AsyncIterator[Path]:
            for index in range(len(plan.segments)):
                local = workdir / SEGMENT_ZIP
                await storage.download_to(objects.segment_key(plan.video_id, index), local)
                with zipfile.ZipFile(local) as part:
                    manifest = json.loads(part.read(MANIFEST_NAME))
                    commands.append(manifest["ffmpeg_command"])
                    for entry in manifest["frames"]:
                        frame = workdir / entry["file"]
                        # One frame on disk at a time: the ZIP deletes it once its bytes are out.
                        frame.write_bytes(part.read(entry["file"]))
                        times.append(Fraction(str(entry["timestamp_seconds"])))
                        yield frame
                local.unlink()

        async def finish(_: list[str]) -> Ending:
            clock.mark("extracted")
            return Ending(times, fields={"ffmpeg_segments": commands})

        header = ManifestHeader(plan.filename, plan.options, plan.selection.span, plan.source_sha256, plan.command)
        result = ResultZip(plan.video_id, plan.run_id, header, plan.info.duration, finish)
        return await store_result(frames(), result, storage, workdir, config.tools, config.max_result_bytes, clock)
