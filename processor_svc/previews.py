"""Small JPEG images of a job's first frames, for a page to show beside the ZIP: the first frames are kept (hard
links) as they pass on their way into the ZIP, which deletes them, and each is scaled by an ffmpeg run of its own
as soon as it is kept, while the extraction goes on (one run for all of them would wait for the last, which on a
short video is the end of the extraction), and handed to `store` as soon as it is made: a job's end does not
wait for its previews."""

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


def previews_argv(frames: list[Path], out_dir: Path, first: int = 1) -> list[str]:
    """Each frame is an input of its own, scaled into its own output, numbered from `first`."""
    fit = f"scale=w='min({BOX_WIDTH},iw)':h='min({BOX_HEIGHT},ih)':force_original_aspect_ratio=decrease"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-protocol_whitelist", "file"]
    for frame in frames:
        argv += ["-i", str(frame)]
    argv += ["-filter_complex", ";".join(f"[{i}:v]{fit}[p{i}]" for i in range(len(frames)))]
    for i in range(len(frames)):
        argv += ["-map", f"[p{i}]", "-frames:v", "1", "-q:v", JPEG_QUALITY, str(out_dir / f"{first + i}.jpg")]
    return argv


class PreviewCollector:
    """Taps the stream of finished frames: keeps the first `count` and starts scaling each one as it is kept."""

    def __init__(
        self, directory: Path, limits: ToolLimits, count: int = PREVIEW_COUNT, store: Store | None = None
    ) -> None:
        self._dir = directory
        self._limits = limits
        self._count = count
        self._store = store
        self._rendering: list[asyncio.Future[Path | None]] = []

    async def tap(self, frames: AsyncIterator[Path]) -> AsyncIterator[Path]:
        async for frame in frames:
            if len(self._rendering) < self._count:
                self._keep(frame)
            yield frame

    def _keep(self, frame: Path) -> None:
        number = len(self._rendering) + 1
        (self._dir / "out").mkdir(parents=True, exist_ok=True)
        link = self._dir / f"frame-{number}{frame.suffix}"
        os.link(frame, link)  # the ZIP deletes the frame; the link keeps its bytes
        self._rendering.append(asyncio.ensure_future(self._render(link, number)))

    async def _render(self, frame: Path, number: int) -> Path | None:
        argv = previews_argv([frame], self._dir / "out", first=number)
        completed: Completed = await run_tool(argv, self._dir / f"ffmpeg-{number}.log", self._limits)
        image = self._dir / "out" / f"{number}.jpg"
        if completed.returncode != 0 or not image.is_file():
            # Previews are a convenience: a frame ffmpeg made but cannot scale must not fail the job.
            log.warning("previews_not_made", returncode=completed.returncode, stderr=completed.stderr_tail[-300:])
            return None
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
