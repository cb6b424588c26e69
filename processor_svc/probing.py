"""Running ffprobe on a job's source: the description of the file, and whether decoding keyframes only gives
the same frames as decoding everything."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from processor_svc.extraction import keyframes_cover_samples
from processor_svc.media import (
    MediaInfo,
    packets_argv,
    parse_probe,
    probe_argv,
    rejection_for_failed_probe,
    rejection_for_limit,
)
from processor_svc.runner import ToolLimits, run_tool


async def probe(source: Path, workdir: Path, max_pixels: int, limits: ToolLimits) -> MediaInfo:
    completed = await run_tool(probe_argv(source, max_pixels), workdir / "ffprobe.log", limits)
    if completed.returncode != 0:
        raise rejection_for_failed_probe(completed)
    return parse_probe(completed.stdout)


async def keyframes_suffice(
    source: Path,
    workdir: Path,
    info: MediaInfo,
    interval: Fraction,
    frames: int,
    *,
    max_pixels: int,
    limits: ToolLimits,
) -> bool:
    """Demuxing is cheap next to decoding, so this check costs little and can save most of the decoding when
    every sampled frame is a keyframe (sparse intervals, or one keyframe per interval)."""
    argv = packets_argv(source, info.stream_index, max_pixels)
    completed = await run_tool(argv, workdir / "packets.log", limits)
    if completed.returncode != 0:
        limit = rejection_for_limit(completed)
        if limit is not None:
            raise limit
        return False
    return keyframes_cover_samples(completed.stdout.decode("ascii", "replace").splitlines(), info, interval, frames)
