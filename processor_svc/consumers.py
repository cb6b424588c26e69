"""The job edge: `video.uploaded.v1` → the extraction job, with the job metrics counted here only."""

from __future__ import annotations

import time

import structlog
from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from contracts import FailureCode, VideoUploadedV1
from processor_svc import service
from servicekit import objects
from servicekit.bus import Handler, MessageContext, PermanentError
from servicekit.runtime import PUBLISHER, STORAGE

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
IN_FLIGHT = Gauge("processor_jobs_in_flight", "Jobs running now")
# Every outcome exists from the start at 0, so rate() and the alerts see the first failure (and so the alert
# rules' tests can tell which outcome values the code really emits).
JOB_OUTCOMES = ("processed", "error", *(code.value for code in FailureCode))
for _outcome in JOB_OUTCOMES:
    JOBS.labels(_outcome)


def handlers(app: web.Application, config: service.JobConfig) -> dict[str, Handler]:
    async def on_video_uploaded(event: VideoUploadedV1, ctx: MessageContext) -> None:
        expected = objects.source_key(event.owner_id, event.video_id)
        if event.source.bucket != app[STORAGE].bucket or event.source.key != expected:
            # Only the upload's own object, which video_svc stored under the ids of the event: a forged job cannot
            # have the processor read (and publish frames of) someone else's video.
            log.warning("foreign_source_refused", video_id=str(event.video_id), key=event.source.key[:200])
            raise PermanentError(f"video.uploaded.v1 for {event.video_id} names a source that is not its own")
        started = time.perf_counter()
        IN_FLIGHT.inc()
        try:
            outcome = await service.process_video(event, ctx, config, app[STORAGE], app[PUBLISHER])
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

    return {VideoUploadedV1.event_type: on_video_uploaded}
