"""Splitting an extraction into segments: they cover every sample once, in order, start at whole seconds just
after a keyframe, seek no later than that keyframe, stay under the disk bound, and are not made when splitting
could not be exact."""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import pytest

from processor_svc.media import MediaInfo
from processor_svc.segments import Packet, Segment, plan_segments, whole

# 25 fps in a 1/12800 time base (512 per frame), keyframe every 37 frames: never on a whole second.
FRAME = 512
INFO = MediaInfo(
    format_name="mov,mp4,m4a,3gp,3g2,mj2", duration=Fraction(60), start_time=Fraction(0), stream_index=0,
    codec="h264", width=1920, height=1080, frame_rate=25.0, time_base=Fraction(1, 12800), stream_count=1,
)  # fmt: skip


def packets(gop: int = 37, seconds: int = 60, reorder: int = 2) -> list[Packet]:
    """Frames in presentation order; decoding timestamps run `reorder` frames behind (B-frames)."""
    return [Packet(n * FRAME, (n - reorder) * FRAME, n % gop == 0) for n in range(25 * seconds)]


def plan(interval: str = "1", samples: int = 60, info: MediaInfo = INFO, **options: object) -> list[Segment]:
    settings: dict[str, object] = {"processes": 2, "max_samples": 10, "min_seconds": Fraction(2), **options}
    listed = settings.pop("packets", packets())
    return plan_segments(listed, info, Fraction(interval), samples, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", ["1", "0.5", "3"])
def test_segments_cover_every_sample_once_in_order_within_the_disk_bound(interval: str) -> None:
    samples = int(60 / Fraction(interval))
    segments = plan(interval, samples)
    assert len(segments) > 1
    assert segments[0].first == 0
    assert segments[-1].end == samples
    assert all(a.end == b.first for a, b in itertools.pairwise(segments))
    assert all(0 < s.count <= 10 for s in segments)
    assert all(s.start == s.first * Fraction(interval) and s.start.denominator == 1 for s in segments)


def test_each_segment_seeks_to_the_keyframe_before_the_frame_on_screen_at_its_first_sample() -> None:
    listed = packets()
    for segment in plan()[1:]:
        shown = max(p.pts for p in listed if p.pts * INFO.time_base <= segment.start)  # the frame on screen
        key = max((p for p in listed if p.key and p.pts <= shown), key=lambda p: p.pts)
        assert segment.seek is not None
        # ffmpeg lands on the last keyframe whose presentation (or decoding) time is at or before the asked
        # time: this one, by either
        assert segment.seek >= max(key.pts, key.dts) * INFO.time_base  # type: ignore[type-var]
        later = [p for p in listed if p.key and p.pts > key.pts]
        assert all(segment.seek < min(p.pts, p.dts) * INFO.time_base for p in later)  # type: ignore[type-var]
        assert segment.start - key.pts * INFO.time_base <= Fraction(7, 4)  # little decoded before the sample


def test_a_segment_starts_wherever_that_skips_more_decoding_than_a_process_costs() -> None:
    every_two_seconds = packets(gop=50)  # a frame every 3 s: 2 s to 4 s of each 6 s need not be decoded
    assert [s.first for s in plan("3", 20, packets=every_two_seconds, skip_unseen=True)] == list(range(20))
    regular = plan("3", 20, packets=every_two_seconds)  # (the parts of several workers)
    assert 1 < len(regular) < 20
    small = dataclasses.replace(INFO, width=320, height=240)  # 48-72 frames of 320x240 cost less than a process
    assert plan("3", 20, small, packets=every_two_seconds, skip_unseen=True) == plan(
        "3", 20, small, packets=every_two_seconds
    )
    # a frame a second, keyframes every 2 s: 23 frames of 1080p skipped cost less than a process
    assert plan(packets=every_two_seconds, skip_unseen=True) == plan(packets=every_two_seconds)


def test_a_file_that_starts_late_seeks_on_its_own_time_axis() -> None:
    late = dataclasses.replace(INFO, start_time=Fraction(3, 10))
    listed = [dataclasses.replace(p, pts=p.pts + 3840, dts=p.dts + 3840) for p in packets()]  # type: ignore[operator]
    shifted, plain = plan(info=late, packets=listed), plan()
    assert [s.first for s in shifted] == [s.first for s in plain]
    assert [s.seek for s in shifted] == [s.seek for s in plain]


@pytest.mark.parametrize(
    "options",
    [
        {"processes": 1},
        {"info": dataclasses.replace(INFO, format_name="mpegts")},  # seeks by byte position
        {"info": dataclasses.replace(INFO, time_base=Fraction(1001, 30000))},  # whole seconds not exact in it
        {"packets": None},  # no timestamps
        {"samples": 3, "min_seconds": Fraction(4)},  # too short to be worth a second process
        {"min_seconds": Fraction(20)},  # at least 20 samples a segment, over the disk bound of 10
        {"packets": [dataclasses.replace(p, key=p.pts == 0) for p in packets()]},  # one keyframe only
        {"interval": "0.3333"},  # no sample but the first at a whole second within the bound
    ],
)
def test_one_segment_when_splitting_could_not_be_exact_or_bounded(options: dict[str, object]) -> None:
    samples = options.pop("samples", 60)
    interval = options.pop("interval", "1")
    info = options.pop("info", INFO)
    assert plan(str(interval), int(samples), info, **options) == [whole(int(samples))]  # type: ignore[arg-type]
