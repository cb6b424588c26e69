"""Composition root of processor_svc: broker, storage, the job consumer and the readiness checks."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

from aiohttp import web

from contracts.topology import PROCESSOR_VIDEO_SEGMENTS, PROCESSOR_VIDEO_UPLOADED, QueueSpec
from processor_svc import jobdir
from processor_svc.consumers import handlers, segment_handlers
from processor_svc.media import Limits
from processor_svc.planning import JobConfig
from processor_svc.runner import ToolLimits
from processor_svc.settings import Settings
from processor_svc.splitting import SplitSettings
from servicekit import runtime
from servicekit.http import add_readiness_check, base_app

SERVICE = "processor_svc"
TOOLS = ("ffmpeg", "ffprobe")
# Under results/, the one prefix its IAM role may write (deploy/terraform/modules/iam).
READINESS_KEY = "results/.readyz"


async def check_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise FileNotFoundError(f"not installed: {', '.join(missing)}")


def job_config(settings: Settings) -> JobConfig:
    return JobConfig(
        work_dir=settings.work_dir,
        timeout_seconds=settings.job_timeout_seconds,
        threads=settings.decoder_threads,
        limits=Limits(
            max_duration_seconds=settings.max_duration_seconds,
            max_pixels=settings.max_pixels,
            max_frame_rate=settings.max_frame_rate,
            max_streams=settings.max_streams,
            max_frames=settings.max_frames,
        ),
        tools=ToolLimits(
            address_space_bytes=settings.ffmpeg_max_address_space_bytes,
            cpu_seconds=settings.tool_cpu_seconds,
            file_bytes=settings.tool_file_bytes,
            open_files=settings.ffmpeg_max_open_files,
        ),
        max_result_bytes=settings.max_result_bytes,
        split=SplitSettings(min_seconds=settings.split_min_seconds, segment_seconds=settings.split_segment_seconds),
    )


def workspace(settings: Settings) -> runtime.CleanupCtx:
    """Job directories a crashed worker left behind are removed before any job starts."""

    async def ctx(_: web.Application) -> AsyncIterator[None]:
        jobdir.remove_stale(settings.work_dir)
        yield

    return ctx


def consumer_bindings(config: JobConfig, queue: QueueSpec, segments_queue: QueueSpec) -> runtime.BindingsFactory:
    def bindings(app: web.Application) -> runtime.Bindings:
        storage, publisher = app[runtime.STORAGE], app[runtime.PUBLISHER]
        return [
            (queue, handlers(config, storage, publisher)),
            (segments_queue, segment_handlers(config, storage, publisher)),
        ]

    return bindings


def create_app(
    settings: Settings,
    *,
    queue: QueueSpec = PROCESSOR_VIDEO_UPLOADED,
    segments_queue: QueueSpec = PROCESSOR_VIDEO_SEGMENTS,
) -> web.Application:
    """`queue` and `segments_queue` are the job queues' specs; tests pass ones with shorter backoff tiers."""
    app = base_app(SERVICE, trusted_proxies=settings.trusted_proxies)
    config = job_config(settings)
    add_readiness_check(app, "ffmpeg", check_tools)
    app.cleanup_ctx.append(workspace(settings))
    app.cleanup_ctx.append(runtime.broker(settings, SERVICE))
    app.cleanup_ctx.append(runtime.storage(settings, READINESS_KEY))
    app.cleanup_ctx.append(
        runtime.consumers(
            SERVICE,
            consumer_bindings(config, queue, segments_queue),
            prefetch=settings.processor_concurrency,
            use_database=False,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    )
    return app
