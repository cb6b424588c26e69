"""How frames come out of ffmpeg: the command (for the whole selection, or for one segment of an interval
selection's samples: segments.py), and the files ffmpeg has finished writing.

Which frame is "the frame at t": the one on screen at t, i.e. the last frame whose timestamp is ≤ t. The fps
filter with `round=up` gives exactly that (a frame at pts p fills the slots n with n·interval ≥ p), and
`start_time=0` makes slot 0 exist even when the first frame starts a little after the file does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

from contracts import ExtractionMode, FailureCode, ImageFormat, ProcessingOptions
from processor_svc.media import INPUT_GUARDS, MediaInfo, MediaRejected, decode_guards, rejection_for_limit
from processor_svc.previews import preview_output
from processor_svc.runner import Brake, Completed
from processor_svc.segments import Segment
from processor_svc.selection import Plan, encoder_args, filter_chain, input_args, output_args, seconds_arg

FRAME_PATTERN = "frame_%06d.{ext}"
# The job directory's layout, as the extraction command names it (relative to the directory it runs in).
SOURCE_NAME = "source"
FRAMES_DIR = "frames"
THUMBNAILS_FILE = "storyboard-thumbnails.mjpeg"
THUMBNAIL_QSCALE = "3"
POLL_SECONDS = 0.05
# Finished frames ffmpeg may keep on disk ahead of the upload before it is stopped (about 200 MB of 1080p PNG):
# when storage is slower than extraction, the job's disk use stays bounded instead of growing with the video.
FRAMES_AHEAD = 32
BRAKE_POLL_SECONDS = 0.01


def frame_name(number: int, image_format: ImageFormat) -> str:
    return f"frame_{number:06d}.{image_format.value}"


def extraction_argv(
    *,
    info: MediaInfo,
    options: ProcessingOptions,
    selection: Plan,
    threads: int,
    keyframes_only: bool,
    max_pixels: int,
    thumbnails: str | None = None,
    previews: int = 0,
    segment: Segment | None = None,
    out_dir: str = FRAMES_DIR,
) -> list[str]:
    """The extraction command, run in the job directory: its paths are relative (SOURCE_NAME, `out_dir`), so the
    manifest can show it as it ran, and it can be run again on a copy of the source. With `thumbnails` (a scale
    filter), the same frames also go, small, into THUMBNAILS_FILE as one MJPEG stream for the storyboard; with
    `previews`, the first that many frames also go, small, into the job's previews (previews.py).

    With `segment` (an interval selection from the video's start, split by segments.py), only that segment's
    samples, numbered from its first on: its ffmpeg seeks to its keyframe, untrimmed, on the single pass's time
    axis, and the fps filter starts at its first sample (segments.py says why the frames are the single pass's)."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-xerror"]
    argv += ["-threads", str(threads), *input_args(selection, keyframes_only)]
    first_sample = Fraction(0)
    if segment is not None:
        assert selection.step is not None, selection  # segments split an interval selection only,
        assert selection.span.start == 0, selection  # on the single pass's time axis,
        assert thumbnails is None, selection  # without a storyboard (one stream of thumbnails)
        first_sample = segment.start
        if segment.seek is not None:
            argv += ["-ss", seconds_arg(segment.seek), "-noaccurate_seek", "-copyts", "-start_at_zero"]
    argv += [*INPUT_GUARDS, *decode_guards(max_pixels), "-i", SOURCE_NAME]
    first = 1 if segment is None else segment.first + 1
    assert previews <= (selection.frames if segment is None else segment.count), previews  # (previews.py)
    branches = _branches(selection, thumbnails, previews, first)
    graph = f"[0:{info.stream_index}]{filter_chain(options, info, selection, first_sample)}"
    graph += f",split={len(branches) + 1}" if branches else ""
    graph += "[frames]" + "".join(f"[{label}_in]" for label in branches)
    graph += "".join(f";[{label}_in]{chain}[{label}]" for label, (chain, _) in branches.items())
    argv += ["-filter_complex", graph, "-progress", "pipe:1"]
    outputs = output_args(selection) if segment is None else ["-frames:v", str(segment.count)]
    argv += ["-map", "[frames]", *outputs, *encoder_args(options), "-threads", str(threads), "-f", "image2"]
    argv += ["-start_number", str(first), f"{out_dir}/{FRAME_PATTERN.format(ext=options.image_format.value)}"]
    for _, output in branches.values():
        argv += output
    return argv


def _branches(selection: Plan, thumbnails: str | None, previews: int, first: int) -> dict[str, tuple[str, list[str]]]:
    """The outputs beside the frames, by label: their filter chain (from the frames) and their output options."""
    branches = {}
    if thumbnails is not None:
        output = ["-map", "[thumbnails]", *output_args(selection), "-c:v", "mjpeg", "-q:v", THUMBNAIL_QSCALE]
        branches["thumbnails"] = (thumbnails, [*output, "-f", "mjpeg", THUMBNAILS_FILE])
    if previews > 0:
        branches["previews"] = preview_output(previews, first, "previews")
    return branches


async def finished_frames(
    out_dir: Path,
    image_format: ImageFormat,
    ffmpeg_done: asyncio.Future[Completed],
    brake: Brake | None = None,
    ahead: int = FRAMES_AHEAD,
    first: int = 1,
) -> AsyncIterator[Path]:
    """Each frame file, numbered from `first` on, once ffmpeg is done with it: frame N is complete when frame N+1
    exists or ffmpeg has exited. Stops when ffmpeg has exited and no further frame exists; ffmpeg's own failure
    is the caller's.

    With `brake`, ffmpeg is stopped once it is `ahead` frames in front of the one being handed over (checked
    every BRAKE_POLL_SECONDS, whatever the consumer is doing), and continued once it is no more than half that
    far ahead (or the next frame is missing)."""
    number = first
    position = [number]
    watcher = asyncio.ensure_future(_hold_back(out_dir, image_format, brake, ahead, position, ffmpeg_done))
    try:
        async for frame in _frames(out_dir, image_format, ffmpeg_done, brake, ahead, position):
            yield frame
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def _hold_back(
    out_dir: Path,
    image_format: ImageFormat,
    brake: Brake | None,
    ahead: int,
    position: list[int],
    ffmpeg_done: asyncio.Future[Completed],
) -> None:
    if brake is None:
        return
    while not ffmpeg_done.done():
        if not brake.engaged and (out_dir / frame_name(position[0] + ahead, image_format)).exists():
            brake.engage()
        await asyncio.sleep(BRAKE_POLL_SECONDS)


async def _frames(
    out_dir: Path,
    image_format: ImageFormat,
    ffmpeg_done: asyncio.Future[Completed],
    brake: Brake | None,
    ahead: int,
    position: list[int],
) -> AsyncIterator[Path]:
    number = position[0]
    while True:
        current = out_dir / frame_name(number, image_format)
        if (out_dir / frame_name(number + 1, image_format)).exists() or (ffmpeg_done.done() and current.exists()):
            if brake is not None:
                if (out_dir / frame_name(number + ahead, image_format)).exists():
                    brake.engage()
                elif brake.engaged and not (out_dir / frame_name(number + ahead // 2, image_format)).exists():
                    brake.release()
            yield current
            number += 1
            position[0] = number
        elif ffmpeg_done.done():
            return
        else:
            if brake is not None:
                brake.release()  # waiting for a frame: ffmpeg must be running
            await asyncio.wait([ffmpeg_done], timeout=POLL_SECONDS)


def check_extraction(
    completed: Completed, produced: int, selection: Plan, info: MediaInfo, segment: Segment | None = None
) -> None:
    """A failed or short extraction must not pass as a (short) success: a truncated file decodes fewer frames
    than its container promises. A limit ffmpeg ran into is the file's doing, a full disk is not. Keyframes and
    scenes modes have no expected count: the video decides (up to their bound)."""
    if completed.returncode != 0:
        if "No space left" in completed.stderr_tail:
            raise OSError(f"ffmpeg ran out of disk space: {completed.stderr_tail[-300:]}")
        limit = rejection_for_limit(completed)
        if limit is not None:
            raise limit
        raise MediaRejected(FailureCode.INVALID_MEDIA, f"ffmpeg failed: {completed.stderr_tail[-300:]}")
    expected = selection.frames if segment is None else segment.count
    if produced == expected or (selection.mode is not ExtractionMode.INTERVAL and produced <= expected):
        return
    # The last sample may fall on the edge of the last frame (rounded durations, variable frame rate).
    last_sample = selection.sample_time(expected - 1 + (0 if segment is None else segment.first))
    frame_time = Fraction(2) / Fraction(info.frame_rate or 1).limit_denominator(1000)
    if produced == expected - 1 and last_sample >= info.duration - frame_time:
        return
    raise MediaRejected(
        FailureCode.INVALID_MEDIA,
        f"Only {produced} of {expected} frames could be decoded: the file looks truncated or damaged.",
    )
