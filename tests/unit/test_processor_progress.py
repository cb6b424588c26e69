"""Progress reports from ffmpeg's -progress output: at most one every 2 s or 5 %, whichever is rarer."""

from __future__ import annotations

from processor_svc.progress import ProgressThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_report_needs_both_two_seconds_and_five_percent_since_the_last() -> None:
    reports: list[tuple[float, int]] = []

    async def report(progress: float, frames: int) -> None:
        reports.append((progress, frames))

    clock = Clock()
    throttle = ProgressThrottle(report, duration_seconds=100, clock=clock)
    await throttle.on_line("frame=3")
    await throttle.on_line("out_time_us=10000000")  # 10 %, first report
    clock.now = 1.0
    await throttle.on_line("out_time_us=30000000")  # 30 % but only 1 s later
    clock.now = 5.0
    await throttle.on_line("out_time_us=12000000")  # 5 s later but only 2 % past the last report
    await throttle.on_line("frame=40")
    await throttle.on_line("out_time_us=40000000")  # both
    clock.now = 9.0
    await throttle.on_line("out_time_us=250000000")  # past the end: clamped
    assert reports == [(0.1, 3), (0.4, 40), (1.0, 40)]


async def test_lines_that_are_not_progress_are_ignored() -> None:
    reports: list[float] = []

    async def report(progress: float, frames: int) -> None:
        reports.append(progress)

    throttle = ProgressThrottle(report, duration_seconds=10)
    for line in ("progress=continue", "out_time_us=N/A", "frame=", "speed=2.1x", ""):
        await throttle.on_line(line)
    assert reports == []
    assert throttle.frames_done == 0
