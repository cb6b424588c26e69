"""ffmpeg's `-progress` output turned into throttled progress reports: at most one every 2 s or 5 %,
whichever is rarer (both must have passed since the last report)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MIN_SECONDS = 2.0
MIN_STEP = 0.05

Report = Callable[[float, int], Awaitable[None]]


@dataclass
class ProgressThrottle:
    report: Report
    duration_seconds: float
    clock: Callable[[], float] = time.monotonic
    min_seconds: float = MIN_SECONDS
    min_step: float = MIN_STEP
    frames_done: int = 0
    _last_time: float = field(default=float("-inf"), init=False)
    _last_progress: float = field(default=0.0, init=False)

    async def on_line(self, line: str) -> None:
        """One `key=value` line of ffmpeg's progress output."""
        key, _, value = line.partition("=")
        if key == "frame" and value.isdigit():
            self.frames_done = int(value)
        elif key == "out_time_us" and value.lstrip("-").isdigit():
            await self.update(int(value) / 1_000_000 / self.duration_seconds)

    async def update(self, progress: float) -> None:
        progress = min(max(progress, 0.0), 1.0)
        now = self.clock()
        if now - self._last_time < self.min_seconds or progress - self._last_progress < self.min_step:
            return
        self._last_time, self._last_progress = now, progress
        await self.report(progress, self.frames_done)
