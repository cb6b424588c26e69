"""The job edge: `video.uploaded.v1` → the extraction job, `video.segment.requested.v1` → one segment's job
(fanout.py), with the job metrics counted here only."""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

from contracts import FailureCode, VideoSegmentRequestedV1, VideoUploadedV1
from processor_svc import fanout, service
from processor_svc.planning import JobConfig
from processor_svc.results import Outcome
from servicekit import objects
from servicekit.bus import Handler, MessageContext, PermanentError, Publisher
from servicekit.storage import Storage

log = structlog.get_logger(__name__)

JOBS = Counter("processor_jobs_total", "Jobs by outcome: processed, a failure code, or error (retried)", ["outcome"])
JOB_SECONDS = Histogram(
    "processor_job_duration_seconds",
    "Seconds per job, download to outcome event",
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800),
)
FRAMES = Counter("processor_frames_total", "Frames extracted into result ZIPs")
BYTES = Counter("processor_bytes_total", "Bytes of result ZIPs stored")
STAGE_ENDS = Histogram(
    "processor_job_stage_end_seconds",
    "Seconds from a job's start until each of its stages ended (processor_svc/stages.py)",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800),
)
SEGMENT_JOBS = Counter(
    "processor_segment_jobs_total",
    "Jobs of long videos' segments (also counted in processor_jobs_total) by outcome: segment (stored), "
    "processed (stored and gathered the video), stale, a failure code, or error",
    ["outcome"],
)
IN_FLIGHT = Gauge("processor_jobs_in_flight", "Jobs running now")
# Every outcome exists from the start at 0, so rate() and the alerts see the first failure (and so the alert
# rules' tests can tell which outcome values the code really emits).
# A split job ends as `split`, a segment's job as `segment` (or `processed` when it gathered the video), a request
# of a replaced run as `stale`.
JOB_OUTCOMES = ("processed", "error", "split", "segment", "stale", *(code.value for code in FailureCode))
for _outcome in JOB_OUTCOMES:
    JOBS.labels(_outcome)


def handlers(config: JobConfig, storage: Storage, publisher: Publisher) -> dict[str, Handler]:
    async def on_video_uploaded(event: VideoUploadedV1, ctx: MessageContext) -> None:
        expected = objects.source_key(event.owner_id, event.video_id)
        if event.source.bucket != storage.bucket or event.source.key != expected:
            # Only the upload's own object, which video_svc stored under the ids of the event: a forged job cannot
            # have the processor read (and publish frames of) someone else's video.
            log.warning("foreign_source_refused", video_id=str(event.video_id), key=event.source.key[:200])
            raise PermanentError(f"video.uploaded.v1 for {event.video_id} names a source that is not its own")
        await _counted(service.process_video(event, ctx, config, storage, publisher))

    return {VideoUploadedV1.event_type: on_video_uploaded}


def segment_handlers(config: JobConfig, storage: Storage, publisher: Publisher) -> dict[str, Handler]:
    async def on_segment_requested(event: VideoSegmentRequestedV1, ctx: MessageContext) -> None:
        # The source and the plan are found from the event's ids alone (servicekit/objects.py).
        try:
            outcome = await _counted(fanout.process_segment(event, ctx, config, storage, publisher))
        except Exception:
            SEGMENT_JOBS.labels("error").inc()
            raise
        SEGMENT_JOBS.labels(outcome.label).inc()

    return {VideoSegmentRequestedV1.event_type: on_segment_requested}


async def _counted(job: Coroutine[Any, Any, Outcome]) -> Outcome:
    started = time.perf_counter()
    IN_FLIGHT.inc()
    try:
        outcome = await job
    except Exception:
        JOBS.labels("error").inc()
        raise
    finally:
        IN_FLIGHT.dec()
        JOB_SECONDS.observe(time.perf_counter() - started)
    JOBS.labels(outcome.label).inc()
    FRAMES.inc(outcome.frames)
    BYTES.inc(outcome.bytes)
    for stage, seconds in outcome.stages.items():
        STAGE_ENDS.labels(stage).observe(seconds)
    return outcome
