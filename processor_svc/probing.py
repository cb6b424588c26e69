"""Running ffprobe on a job's source: the description of the file and, at the same time, its video packets
(where the keyframes are: whether decoding keyframes only gives the same frames, and where to split)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from processor_svc.media import (
    MediaInfo,
    packets_argv,
    parse_probe,
    probe_argv,
    rejection_for_failed_probe,
    rejection_for_limit,
)
from processor_svc.runner import ToolLimits, run_tool
from processor_svc.segments import Packet, parse_packets


async def probe(source: Path, workdir: Path, max_pixels: int, limits: ToolLimits) -> MediaInfo:
    completed = await run_tool(probe_argv(source, max_pixels), workdir / "ffprobe.log", limits)
    if completed.returncode != 0:
        raise rejection_for_failed_probe(completed)
    return parse_probe(completed.stdout)


async def inspect(
    source: Path, workdir: Path, max_pixels: int, limits: ToolLimits
) -> tuple[MediaInfo, list[Packet] | None]:
    """The description and the video stream's packets (None when they cannot be listed or lack timestamps: then
    the job makes a single pass). Two processes side by side: demuxing is cheap next to decoding, and nothing
    waits for it."""
    listing = asyncio.ensure_future(run_tool(packets_argv(source, max_pixels), workdir / "packets.log", limits))
    try:
        info = await probe(source, workdir, max_pixels, limits)
        completed = await listing
    finally:
        if not listing.done():
            listing.cancel()  # the runner kills ffprobe
        await asyncio.gather(listing, return_exceptions=True)
    if completed.returncode != 0:
        limit = rejection_for_limit(completed)
        if limit is not None:
            raise limit
        return info, None
    lines = completed.stdout.decode("ascii", "replace").splitlines()
    return info, parse_packets(lines, info.stream_index)
