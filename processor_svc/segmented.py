"""Running an extraction's segments (segments.py) side by side and handing their frames over in order, as they
are finished, so the ZIP is written while ffmpeg goes on.

At most `processes` segments run at once. Disk stays bounded without stopping ffmpeg: a segment starts only when
it is at most `processes` segments ahead of the one being handed over, so no more than `processes` + 1 segments'
frames exist at a time (the plan keeps each to FRAMES_AHEAD samples); the one more keeps a process slot busy
while the segment being handed over is still running. A single segment has no such bound by construction: it
keeps the brake (SIGSTOP/SIGCONT) of extraction.finished_frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from contracts import ImageFormat
from processor_svc.extraction import finished_frames
from processor_svc.runner import Brake, Completed
from processor_svc.segments import Segment

RunSegment = Callable[[Segment, Path, Brake | None], Awaitable[Completed]]
CheckSegment = Callable[[Segment, Completed, int], None]


def segment_directory(index: int) -> str:
    """Where the `index`-th of several segments writes its frames, inside the frames directory."""
    return f"segment-{index:05d}"


class SegmentedExtraction:
    def __init__(
        self,
        segments: list[Segment],
        run: RunSegment,
        check: CheckSegment,
        out_dir: Path,
        image_format: ImageFormat,
        processes: int,
    ) -> None:
        self._segments = segments
        self._run = run
        self._check = check
        self._out_dir = out_dir
        self._format = image_format
        self._slots = asyncio.Semaphore(max(1, processes))
        self._ahead = max(0, processes)
        self._started: list[tuple[Path, Brake | None, asyncio.Future[Completed]]] = []
        self.produced = 0

    async def frames(self) -> AsyncIterator[Path]:
        """Every segment's frames in order; each segment is checked (`check`) once its ffmpeg has exited."""
        for index, segment in enumerate(self._segments):
            while len(self._started) < min(len(self._segments), index + 1 + self._ahead):
                self._start(len(self._started))
            directory, brake, done = self._started[index]
            produced = 0
            async for frame in finished_frames(directory, self._format, done, brake, first=segment.first + 1):
                produced += 1
                yield frame
            self._check(segment, await done, produced)
            self.produced += produced

    def _start(self, index: int) -> None:
        segment = self._segments[index]
        # A single segment (the single pass) writes into `out_dir` itself, as its command says.
        directory = self._out_dir if len(self._segments) == 1 else self._out_dir / segment_directory(index)
        directory.mkdir(exist_ok=True)
        brake = Brake() if len(self._segments) == 1 else None

        async def run() -> Completed:
            async with self._slots:
                return await self._run(segment, directory, brake)

        self._started.append((directory, brake, asyncio.ensure_future(run())))

    async def cancel(self) -> None:
        """Stop every segment still running (the runner kills its process group)."""
        running = [done for _, _, done in self._started if not done.done()]
        for done in running:
            done.cancel()
        await asyncio.gather(*(done for _, _, done in self._started), return_exceptions=True)
