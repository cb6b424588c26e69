"""How segments are scheduled (processor_svc/segmented.py), with stand-in processes that write frame files: at most
`processes` run at once, a finished segment's slot goes to the next one even while an earlier one is still being
handed over, and frames come out in order."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

from contracts import ImageFormat
from processor_svc.extraction import frame_name
from processor_svc.runner import Brake, Completed
from processor_svc.segmented import SegmentedExtraction
from processor_svc.segments import Segment

FORMAT = ImageFormat.PNG


def segments(count: int, size: int) -> list[Segment]:
    return [Segment(i * size, size, Fraction(i * size), Fraction(i * size)) for i in range(count)]


async def test_a_slow_first_segment_does_not_leave_a_process_slot_idle(tmp_path: Path) -> None:
    first_may_end = asyncio.Event()
    started: list[int] = []
    running: set[int] = set()
    most_running = 0

    async def run(segment: Segment, directory: Path, brake: Brake | None) -> Completed:
        nonlocal most_running
        index = segment.first // segment.count
        started.append(index)
        running.add(index)
        most_running = max(most_running, len(running))
        if index == 0:
            await first_may_end.wait()
        for number in range(segment.first + 1, segment.end + 1):
            (directory / frame_name(number, FORMAT)).write_bytes(b"x")
        running.discard(index)
        return Completed(0, b"", "", 0.0)

    extraction = SegmentedExtraction(segments(4, 3), run, lambda *_: None, tmp_path, FORMAT, processes=2)
    frames: list[str] = []

    async def hand_over() -> None:
        async for frame in extraction.frames():
            frames.append(frame.name)

    consumer = asyncio.ensure_future(hand_over())
    try:
        # Segment 1 ends at once; its slot goes to segment 2 while segment 0 still runs and is not handed over.
        for _ in range(200):
            if 2 in started:
                break
            await asyncio.sleep(0.01)
        assert started[:3] == [0, 1, 2]
        assert 3 not in started  # no more than `processes` + 1 segments' frames on disk at once
        assert frames == []
        first_may_end.set()
        await asyncio.wait_for(consumer, 10)
    finally:
        await extraction.cancel()
    assert most_running <= 2
    assert started == [0, 1, 2, 3]
    assert frames == [frame_name(n, FORMAT) for n in range(1, 13)]
    assert extraction.produced == 12
