"""Small JPEG images of a job's first frames, for a page to show beside the ZIP, each handed to `store` as soon
as it is made. The extraction makes them as an output beside the frames (`preview_output`), so a short video pays
no ffmpeg start for them; frames from elsewhere (a long video's segments, zipped by the worker that ends it) are
kept (hard links: the ZIP deletes them) as they pass, each scaled by an ffmpeg run of its own."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import structlog

from processor_svc.runner import Completed, ToolLimits, run_tool

log = structlog.get_logger(__name__)

Store = Callable[[int, Path], Awaitable[None]]  # (preview number from 1, its image)

PREVIEW_COUNT = 4
# Fit inside this box, aspect kept, never enlarged: a page shows them as thumbnails.
BOX_WIDTH, BOX_HEIGHT = 320, 240
JPEG_QUALITY = "4"  # ffmpeg's -q:v scale, 2 (best) to 31
FIT = f"scale=w='min({BOX_WIDTH},iw)':h='min({BOX_HEIGHT},ih)':force_original_aspect_ratio=decrease"
# What the extraction names the previews it makes, in the job directory (image2's pattern, numbered from 1).
PREVIEW_PATTERN = "preview-%d.jpg"


def preview_output(count: int, first: int, label: str) -> tuple[str, list[str]]:
    """The extraction's filter branch and output for previews of its first `count` frames (no more than it makes:
    an output left open keeps ffmpeg decoding past the frames' end), numbered from `first`; each file
    appears whole (written aside, then renamed), one picture each (no frame rate to keep)."""
    branch = f"select='lt(n,{count})',{FIT}"
    output = ["-map", f"[{label}]", "-frames:v", str(count), "-fps_mode", "passthrough", "-c:v", "mjpeg"]
    output += ["-q:v", JPEG_QUALITY, "-f", "image2", "-atomic_writing", "1", "-start_number", str(first)]
    return branch, [*output, PREVIEW_PATTERN]


def preview_argv(frame: Path, image: Path) -> list[str]:
    """A frame scaled into its preview."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-protocol_whitelist", "file"]
    return [*argv, "-i", str(frame), "-vf", FIT, "-frames:v", "1", "-q:v", JPEG_QUALITY, str(image)]


class PreviewCollector:
    """Taps the stream of finished frames: for each of the first PREVIEW_COUNT, the preview the extraction made in
    `made_in` if it is there (it is written before the frame after its own), else one scaled from the frame."""

    def __init__(
        self, directory: Path, limits: ToolLimits, store: Store | None = None, made_in: Path | None = None
    ) -> None:
        self._dir = directory
        self._made_in = made_in
        self._limits = limits
        self._store = store
        self._rendering: list[asyncio.Future[Path | None]] = []

    async def tap(self, frames: AsyncIterator[Path]) -> AsyncIterator[Path]:
        async for frame in frames:
            if len(self._rendering) < PREVIEW_COUNT:
                self._keep(frame)
            yield frame

    def _keep(self, frame: Path) -> None:
        number = len(self._rendering) + 1
        made = None if self._made_in is None else self._made_in / (PREVIEW_PATTERN % number)
        if made is not None and made.is_file():
            self._rendering.append(asyncio.ensure_future(self._stored(number, made)))
            return
        (self._dir / "out").mkdir(parents=True, exist_ok=True)
        link = self._dir / f"frame-{number}{frame.suffix}"
        os.link(frame, link)  # the ZIP deletes the frame; the link keeps its bytes
        self._rendering.append(asyncio.ensure_future(self._render(link, number)))

    async def _render(self, frame: Path, number: int) -> Path | None:
        image = self._dir / "out" / f"{number}.jpg"
        completed: Completed = await run_tool(
            preview_argv(frame, image), self._dir / f"ffmpeg-{number}.log", self._limits
        )
        if completed.returncode != 0 or not image.is_file():
            # Previews are a convenience: a frame ffmpeg made but cannot scale must not fail the job.
            log.warning("previews_not_made", returncode=completed.returncode, stderr=completed.stderr_tail[-300:])
            return None
        return await self._stored(number, image)

    async def _stored(self, number: int, image: Path) -> Path:
        if self._store is not None:
            await self._store(number, image)
        return image

    async def images(self) -> list[Path]:
        """The preview files, in frame order (none if one of them could not be made), each handed to `store`."""
        images = await asyncio.gather(*self._rendering)
        return [] if None in images else [image for image in images if image is not None]

    def cancel(self) -> None:
        for rendering in self._rendering:
            if not rendering.done():
                rendering.cancel()
