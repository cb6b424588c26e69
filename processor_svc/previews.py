"""Small JPEG images of a job's first frames, for a page to show beside the ZIP: the first frames are kept (hard
links) as they pass on their way into the ZIP, which deletes them, and one ffmpeg run scales them all while the
extraction goes on."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import structlog

from processor_svc.runner import Completed, ToolLimits, run_tool

log = structlog.get_logger(__name__)

PREVIEW_COUNT = 4
# Fit inside this box, aspect kept, never enlarged: a page shows them as thumbnails.
BOX_WIDTH, BOX_HEIGHT = 320, 240
JPEG_QUALITY = "4"  # ffmpeg's -q:v scale, 2 (best) to 31


def previews_argv(frames: list[Path], out_dir: Path) -> list[str]:
    """One run for every preview: each frame is an input of its own, scaled into its own output."""
    fit = f"scale=w='min({BOX_WIDTH},iw)':h='min({BOX_HEIGHT},ih)':force_original_aspect_ratio=decrease"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-protocol_whitelist", "file"]
    for frame in frames:
        argv += ["-i", str(frame)]
    argv += ["-filter_complex", ";".join(f"[{i}:v]{fit}[p{i}]" for i in range(len(frames)))]
    for i in range(len(frames)):
        argv += ["-map", f"[p{i}]", "-frames:v", "1", "-q:v", JPEG_QUALITY, str(out_dir / f"{i + 1}.jpg")]
    return argv


class PreviewCollector:
    """Taps the stream of finished frames: keeps the first `count`, and starts scaling them as soon as it has
    them all (or the stream ends with fewer)."""

    def __init__(self, directory: Path, limits: ToolLimits, count: int = PREVIEW_COUNT) -> None:
        self._dir = directory
        self._limits = limits
        self._count = count
        self._kept: list[Path] = []
        self._rendering: asyncio.Future[list[Path]] | None = None

    async def tap(self, frames: AsyncIterator[Path]) -> AsyncIterator[Path]:
        async for frame in frames:
            if len(self._kept) < self._count:
                self._keep(frame)
                if len(self._kept) == self._count:
                    self._start()
            yield frame

    def _keep(self, frame: Path) -> None:
        self._dir.mkdir(exist_ok=True)
        link = self._dir / f"frame-{len(self._kept) + 1}{frame.suffix}"
        os.link(frame, link)  # the ZIP deletes the frame; the link keeps its bytes
        self._kept.append(link)

    def _start(self) -> None:
        if self._rendering is None:
            self._rendering = asyncio.ensure_future(self._render())

    async def _render(self) -> list[Path]:
        if not self._kept:
            return []
        out_dir = self._dir / "out"
        out_dir.mkdir()
        argv = previews_argv(self._kept, out_dir)
        completed: Completed = await run_tool(argv, self._dir / "ffmpeg.log", self._limits)
        images = [out_dir / f"{i}.jpg" for i in range(1, len(self._kept) + 1)]
        if completed.returncode != 0 or not all(image.is_file() for image in images):
            # Previews are a convenience: a frame ffmpeg made but cannot scale must not fail the job.
            log.warning("previews_not_made", returncode=completed.returncode, stderr=completed.stderr_tail[-300:])
            return []
        return images

    async def images(self) -> list[Path]:
        """The preview files, in frame order (none if they could not be made)."""
        self._start()
        assert self._rendering is not None
        return await self._rendering

    def cancel(self) -> None:
        if self._rendering is not None and not self._rendering.done():
            self._rendering.cancel()
