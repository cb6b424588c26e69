"""The job edge: `video.uploaded.v1` → the extraction job, with the job metrics counted here only."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

from contracts import FailureCode, VideoUploadedV1
from processor_svc import service
from servicekit.bus import Handler, MessageContext
from servicekit.runtime import PUBLISHER, STORAGE

JOBS = Counter("processor_jobs_total", "Jobs by outcome: processed, a failure code, or error (retried)", ["outcome"])
JOB_SECONDS = Histogram(
    "processor_job_duration_seconds",
    "Seconds per job, download to outcome event",
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800),
)
FRAMES = Counter("processor_frames_total", "Frames extracted into result ZIPs")
BYTES = Counter("processor_bytes_total", "Bytes of result ZIPs stored")
IN_FLIGHT = Gauge("processor_jobs_in_flight", "Jobs running now")
# Every outcome exists from the start at 0, so rate() and the alerts see the first failure (and so the alert
# rules' tests can tell which outcome values the code really emits).
JOB_OUTCOMES = ("processed", "error", *(code.value for code in FailureCode))
for _outcome in JOB_OUTCOMES:
    JOBS.labels(_outcome)


def handlers(app: web.Application, config: service.JobConfig) -> dict[str, Handler]:
    async def on_video_uploaded(event: VideoUploadedV1, ctx: MessageContext) -> None:
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

    return {VideoUploadedV1.event_type: on_video_uploaded}
