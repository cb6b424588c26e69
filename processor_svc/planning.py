"""A job's source, looked at: what it is, which frames the options take, and how they are extracted (one pass,
segments of this worker's CPUs, or segments for several workers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from contracts import VideoUploadedV1
from processor_svc import storyboard
from processor_svc.extraction import FRAMES_AHEAD, SOURCE_NAME, extraction_argv
from processor_svc.media import Limits, MediaInfo, check_limits
from processor_svc.previews import PREVIEW_COUNT
from processor_svc.probing import black_opening, inspect
from processor_svc.runner import ToolLimits
from processor_svc.segments import Segment, keyframes_cover_samples, min_segment_seconds, plan_segments, whole
from processor_svc.selection import Plan, plan, planned_frames, requested_range
from processor_svc.splitting import NEVER_SPLIT, SplitSettings, worker_segments
from processor_svc.stages import JobClock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JobConfig:
    work_dir: Path
    timeout_seconds: float
    threads: int
    limits: Limits
    tools: ToolLimits
    max_result_bytes: int
    split: SplitSettings = NEVER_SPLIT


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
    parts: list[Segment]  # segments for several workers (splitting.py); none: this worker does it all


async def prepare(
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
            skip_unseen=True,
        )  # fmt: skip
    parts = worker_segments(packets, info, selection, options, config.split)
    clock.mark("keyframes_checked")
    thumbnails = storyboard.thumbnail_filter(options, info) if options.storyboard else None
    argv = extraction_argv(
        info=info, options=options, selection=selection, threads=config.threads, keyframes_only=keyframes_only,
        max_pixels=max_pixels, thumbnails=thumbnails,
        previews=min(PREVIEW_COUNT, selection.frames),
    )  # fmt: skip
    sheet = storyboard.layout(options, info, selection.frames) if options.storyboard else None
    log.info("extraction_planned", codec=info.codec, mode=selection.mode.value, frames=selection.frames,
             start=float(span.start), end=float(span.end), keyframes_only=keyframes_only,
             segments=len(segments), workers_segments=len(parts))  # fmt: skip
    return Prepared(info, selection, source_sha256, argv, sheet, keyframes_only, segments, parts)
