"""Splitting a long video across workers (processor_svc/splitting.py): when it happens, into how many segments of
about even length, and a plan that comes back from its JSON exactly as it was made (times are fractions)."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from fractions import Fraction

import pytest

from contracts import MAX_SEGMENTS, ExtractionMode, ImageFormat, ProcessingOptions
from processor_svc.media import MediaInfo
from processor_svc.segments import Packet
from processor_svc.selection import Plan, TimeRange
from processor_svc.splitting import SplitPlan, SplitSettings, worker_segments

FRAME = 512  # 25 fps in a 1/12800 time base
INFO = MediaInfo(
    format_name="mov,mp4,m4a,3gp,3g2,mj2", duration=Fraction(1200), start_time=Fraction(1, 30), stream_index=0,
    codec="h264", width=1920, height=1080, frame_rate=25.0, time_base=Fraction(1, 12800), stream_count=1,
    rotation=90, color_transfer="smpte2084",
)  # fmt: skip
SETTINGS = SplitSettings(min_seconds=600, segment_seconds=300)
OPTIONS = ProcessingOptions()


def packets(seconds: int = 1200, gop: int = 50) -> list[Packet]:
    return [Packet(n * FRAME, (n - 2) * FRAME, n % gop == 0) for n in range(25 * seconds)]


def interval(seconds: int = 1200, step: Fraction = Fraction(1), start: Fraction = Fraction(0)) -> Plan:
    span = TimeRange(start, Fraction(seconds))
    return Plan(ExtractionMode.INTERVAL, span, int(span.length / step), step)


def test_a_20_minute_video_goes_out_as_4_segments_of_about_5_minutes_covering_every_sample() -> None:
    segments = worker_segments(packets(), INFO, interval(), OPTIONS, SETTINGS)
    assert len(segments) == 4
    assert segments[0].first == 0
    assert segments[0].seek is None
    assert segments[-1].end == 1200
    assert all(a.end == b.first for a, b in itertools.pairwise(segments))
    assert all(225 <= s.count <= 375 for s in segments), [s.count for s in segments]


@pytest.mark.parametrize(
    ("selection", "options", "settings", "why"),
    [
        (interval(599), OPTIONS, SETTINGS, "shorter than the threshold"),
        (interval(), OPTIONS, SplitSettings(min_seconds=0, segment_seconds=300), "splitting turned off"),
        (interval(start=Fraction(5)), OPTIONS, SETTINGS, "a range that does not start at the video's start"),
        (interval(), ProcessingOptions(storyboard=True), SETTINGS, "a storyboard (one stream of thumbnails)"),
        (Plan(ExtractionMode.KEYFRAMES, TimeRange(Fraction(0), Fraction(1200)), 100), OPTIONS, SETTINGS, "keyframes"),
        (interval(), OPTIONS, SplitSettings(min_seconds=600, segment_seconds=700), "room for one segment only"),
    ],
)
def test_a_job_stays_one_workers(
    selection: Plan, options: ProcessingOptions, settings: SplitSettings, why: str
) -> None:
    assert worker_segments(packets(), INFO, selection, options, settings) == [], why


def test_no_keyframe_where_a_split_is_needed_keeps_the_job_whole() -> None:
    assert worker_segments(packets(gop=25 * 1200), INFO, interval(), OPTIONS, SETTINGS) == []


def test_a_very_long_video_has_at_most_the_contracts_number_of_segments() -> None:
    settings = SplitSettings(min_seconds=600, segment_seconds=10)
    segments = worker_segments(packets(), INFO, interval(), OPTIONS, settings)
    assert 2 * MAX_SEGMENTS // 3 <= len(segments) <= MAX_SEGMENTS


def test_a_plan_comes_back_from_its_json_exactly() -> None:
    selection = interval(step=Fraction(1, 3))
    plan = SplitPlan(
        run_id=uuid.uuid4(),
        upload_event=uuid.uuid4(),
        video_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        filename="holiday été.mp4",
        options=ProcessingOptions(interval_seconds=0.5, image_format=ImageFormat.WEBP, quality=70, width=640),
        source_sha256="ab" * 32,
        info=INFO,
        selection=selection,
        keyframes_only=True,
        command=["ffmpeg", "-i", "source", "frames/frame_%06d.webp"],
        segments=worker_segments(packets(), INFO, selection, OPTIONS, SETTINGS),
        started_at=1_765_000_000.25,
    )
    assert len(plan.segments) == 4
    assert any(s.seek is not None and s.seek.denominator > 1 for s in plan.segments)
    again = SplitPlan.from_json(plan.to_json())
    assert again == plan
    assert [dataclasses.astuple(s) for s in again.segments] == [dataclasses.astuple(s) for s in plan.segments]
    assert again.info.time_base == Fraction(1, 12800)
    assert again.info.start_time == Fraction(1, 30)
