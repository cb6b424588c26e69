"""When each stage of one job ended, in seconds from the job's start. Stages overlap (the download with the probe,
the extraction with the ZIP upload), so the job is described by the moments its stages ended rather than by
durations that would not add up; the job edge turns them into a metric (and the bench into a breakdown)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# In the order they end in a job that extracts; a job that finds its result stored skips most of them.
STAGES = (
    "downloaded",  # the source is in the job directory
    "probed",  # ffprobe described the source
    "keyframes_checked",  # the packet list was read (keyframes only? where to split?)
    "first_frame",  # the first frame went into the ZIP
    "extracted",  # the last ffmpeg process exited
    "stored",  # the ZIP upload completed
    "previews_stored",
    "receipt_written",
    "published",  # the outcome event was confirmed by the broker
)


@dataclass
class JobClock:
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    ended: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def mark(self, stage: str) -> None:
        """Only the first time a stage is marked counts (the first frame of many)."""
        assert stage in STAGES, stage
        self.ended.setdefault(stage, self.clock() - self.started)

    def elapsed(self) -> float:
        return self.clock() - self.started
