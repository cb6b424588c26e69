"""Looking at a job's source before extracting: ffprobe's description of the file and, at the same time, its video
packets (where the keyframes are: whether decoding keyframes only gives the same frames, and where to split), and
where the black it opens with ends."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

from processor_svc.extraction import SOURCE_NAME
from processor_svc.media import (
    INPUT_GUARDS,
    MediaInfo,
    decode_guards,
    packets_argv,
    parse_probe,
    probe_argv,
    rejection_for_failed_probe,
    rejection_for_limit,
)
from processor_svc.runner import ToolLimits, run_tool
from processor_svc.segments import Packet, parse_packets
from processor_svc.selection import printed_frames


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


# skip_black_start looks at most this far into the video: a black opening longer than that is skipped up to here.
BLACK_SCAN_SECONDS = 30
BLACK_SCAN_FILE = "black.txt"


def black_scan_argv(info: MediaInfo, max_pixels: int, threads: int) -> list[str]:
    """blackdetect over the first BLACK_SCAN_SECONDS; the metadata filter prints the frames where black starts
    and ends, with their pts in microseconds. Run in the job directory."""
    chain = f"settb=AVTB,blackdetect=d=0,metadata=mode=print:file={BLACK_SCAN_FILE}"
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-xerror", "-threads", str(threads),
        *INPUT_GUARDS, *decode_guards(max_pixels), "-t", str(BLACK_SCAN_SECONDS), "-i", SOURCE_NAME,
        "-map", f"0:{info.stream_index}", "-vf", chain, "-f", "null", "-",
    ]  # fmt: skip


def opening_black_end(printed: list[str], scanned: Fraction) -> Fraction | None:
    """When the black the video opens with ends (the first frame that is not black), from the metadata filter's
    lines; `scanned` when it lasts the whole scan; None when the first frame is not black."""
    frames = printed_frames(printed)
    if not frames or frames[0].number != 0 or "lavfi.black_start" not in frames[0].metadata:
        return None
    ended = next((f for f in frames if "lavfi.black_end" in f.metadata), None)
    if ended is None:
        return scanned
    return Fraction(ended.pts, 1_000_000) if ended.pts is not None else None


async def black_opening(
    workdir: Path, info: MediaInfo, *, max_pixels: int, threads: int, limits: ToolLimits
) -> Fraction | None:
    completed = await run_tool(black_scan_argv(info, max_pixels, threads), workdir / "black.log", limits, cwd=workdir)
    if completed.returncode != 0:
        raise rejection_for_failed_probe(completed)
    printed = (workdir / BLACK_SCAN_FILE).read_text("utf-8", "replace").splitlines()
    return opening_black_end(printed, min(info.duration, Fraction(BLACK_SCAN_SECONDS)))
