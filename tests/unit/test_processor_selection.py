"""The options of a job turned into ffmpeg's arguments, per mode and range, and the small parsers around them:
pure functions, checked without running ffmpeg (tests/integration/processor/test_processor_options.py runs them)."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest

from contracts import ExtractionMode, ImageFormat, ProcessingOptions
from processor_svc import storyboard
from processor_svc.extraction import extraction_argv
from processor_svc.failures import RANGE_AFTER_END
from processor_svc.media import Limits, MediaInfo, MediaRejected, check_limits, parse_probe
from processor_svc.probing import black_scan_argv, opening_black_end
from processor_svc.segments import keyframes_cover_samples, parse_packets
from processor_svc.selection import (
    TimeRange,
    encoder_args,
    filter_chain,
    fitted_size,
    frame_times,
    input_args,
    jpeg_qscale,
    output_args,
    plan,
    planned_frames,
    requested_range,
)

LIMITS = Limits(max_duration_seconds=100, max_pixels=1920 * 1080, max_frame_rate=60, max_streams=4, max_frames=50)


def info(**video: Any) -> MediaInfo:
    stream = {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 320, "height": 240,
              "avg_frame_rate": "10/1", "time_base": "1/12800", "duration": "10.000000"}  # fmt: skip
    stream.update(video)
    report = {"format": {"format_name": "matroska,webm", "start_time": "0.000000", "nb_streams": 1}}
    return parse_probe(json.dumps({**report, "streams": [stream]}).encode())


def options(**values: Any) -> ProcessingOptions:
    return ProcessingOptions(**values)


def test_the_range_is_the_whole_video_unless_the_options_narrow_it() -> None:
    assert requested_range(options(), info()) == TimeRange(Fraction(0), Fraction(10))
    assert requested_range(options(start_seconds=2.5, end_seconds=40), info()) == TimeRange(
        Fraction(5, 2), Fraction(10)
    )
    assert requested_range(options(end_seconds=4), info()).end == 4


@pytest.mark.parametrize("start", [10, 12.5])
def test_a_range_starting_at_or_after_the_end_is_refused_with_its_own_sentence(start: float) -> None:
    with pytest.raises(MediaRejected) as caught:
        requested_range(options(start_seconds=start), info())
    assert (caught.value.code.value, caught.value.message) == ("invalid_media", RANGE_AFTER_END)


def test_an_opening_black_moves_the_start_only_when_something_is_left() -> None:
    assert requested_range(options(), info(), Fraction(3, 2)).start == Fraction(3, 2)
    assert requested_range(options(start_seconds=4), info(), Fraction(3, 2)).start == 4  # already past it
    assert requested_range(options(end_seconds=1), info(), Fraction(3, 2)).start == 0  # would leave nothing


def test_interval_plans_are_exact_and_the_other_modes_are_bounded() -> None:
    span = TimeRange(Fraction(1), Fraction(4))
    every = plan(options(interval_seconds=0.5), info(), span, 50)
    assert (every.frames, every.step, every.sample_times()[:2]) == (6, Fraction(1, 2), [1, Fraction(3, 2)])
    counted = plan(options(count=4), info(), span, 50)
    assert (counted.frames, counted.step) == (4, Fraction(3, 4))
    assert plan(options(mode=ExtractionMode.KEYFRAMES), info(), span, 50).frames == 50
    assert plan(options(mode=ExtractionMode.SCENES, max_frames=7), info(), span, 50).frames == 7


def test_the_limit_counts_the_frames_the_options_produce() -> None:
    whole = requested_range(options(), info(duration="100"))
    check_limits(info(), LIMITS, planned_frames(plan(options(count=50), info(), whole, 50), info()))
    with pytest.raises(MediaRejected) as caught:
        check_limits(info(), LIMITS, planned_frames(plan(options(count=51), info(), whole, 50), info()))
    assert caught.value.code.value == "too_large"
    # keyframes in 2 s at 10 frames/s: at most 21, whatever max_frames says
    short = TimeRange(Fraction(0), Fraction(2))
    assert planned_frames(plan(options(mode=ExtractionMode.KEYFRAMES, max_frames=999), info(), short, 50), info()) == 21


def test_a_range_that_does_not_start_at_zero_is_reached_by_a_keyframe_seek() -> None:
    span = requested_range(options(start_seconds=1.5), info())
    interval = plan(options(), info(), span, 50)
    assert input_args(interval, keyframes_only=False) == ["-ss", "1.500000", "-noaccurate_seek"]
    assert input_args(plan(options(), info(), requested_range(options(), info()), 50), False) == []
    assert filter_chain(options(), info(), interval) == "fps=fps=1/1:round=up:start_time=0"
    assert output_args(interval) == ["-frames:v", "9"]


def test_keyframes_and_scenes_select_inside_the_range_and_record_each_time() -> None:
    span = TimeRange(Fraction(1), Fraction(3))
    keyframes = plan(options(mode=ExtractionMode.KEYFRAMES), info(), span, 50)
    assert input_args(keyframes, False)[:2] == ["-skip_frame", "nokey"]
    chain = filter_chain(options(mode=ExtractionMode.KEYFRAMES), info(), keyframes)
    assert chain.startswith("select='gte(t,0)*lt(t,2.000000)',settb=AVTB,")
    assert chain.split(",")[-1] == "metadata=mode=print:key=framepipe.frame:file=timestamps.txt"
    assert output_args(keyframes) == ["-frames:v", "50", "-fps_mode", "passthrough"]
    scenes = options(mode=ExtractionMode.SCENES, scene_threshold=0.4)
    chain = filter_chain(scenes, info(), plan(scenes, info(), span, 50))
    assert chain.startswith("select='gte(t,0)*lt(t,2.000000)*(isnan(prev_selected_t)+gt(scene,0.4))'")


@pytest.mark.parametrize(("transfer", "mapped"), [("smpte2084", True), ("arib-std-b67", True), ("bt709", False)])
def test_only_pq_and_hlg_sources_are_tone_mapped(transfer: str, mapped: bool) -> None:
    source = info(color_transfer=transfer)
    chain = filter_chain(options(), source, plan(options(), source, requested_range(options(), source), 50))
    assert ("tonemap=tonemap=mobius" in chain) is mapped
    assert (f"zscale=tin={transfer}:" in chain) is mapped


def test_frames_fit_their_box_by_the_displayed_size() -> None:
    assert fitted_size(options(width=160), info()) == (160, 120)
    assert fitted_size(options(width=100, height=50), info()) == (67, 50)
    assert fitted_size(options(width=640, height=480), info()) is None  # never enlarged
    assert fitted_size(options(), info()) is None
    turned = info(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])
    assert (turned.display_width, turned.display_height) == (240, 320)
    assert fitted_size(options(width=120), turned) == (120, 160)
    assert "scale=120:160" in filter_chain(options(width=120), turned, plan(options(), turned, TimeRange(0, 1), 5))


def test_quality_maps_onto_each_encoders_scale() -> None:
    assert [jpeg_qscale(q) for q in (None, 100, 1)] == [2, 2, 31]
    scale = [jpeg_qscale(q) for q in range(1, 101)]
    assert scale == sorted(scale, reverse=True)
    assert encoder_args(options(image_format=ImageFormat.JPG, quality=20))[-2:] == ["-q:v", str(jpeg_qscale(20))]
    assert encoder_args(options(image_format=ImageFormat.WEBP, quality=40)) == [
        "-c:v", "libwebp", "-lossless", "0", "-quality", "40",
    ]  # fmt: skip
    assert encoder_args(options()) == ["-c:v", "png", "-pred", "up", "-compression_level", "1"]


def test_the_extraction_command_names_only_paths_inside_its_job_directory() -> None:
    source = info()
    chosen = options(storyboard=True, image_format=ImageFormat.JPG)
    argv = extraction_argv(
        info=source, options=chosen, selection=plan(chosen, source, TimeRange(0, 10), 50), threads=2,
        keyframes_only=False, max_pixels=1000, thumbnails=storyboard.thumbnail_filter(chosen, source),
    )  # fmt: skip
    assert argv[argv.index("-i") + 1] == "source"
    assert "frames/frame_%06d.jpg" in argv
    assert argv[-1] == "storyboard-thumbnails.mjpeg"
    assert not [arg for arg in argv if arg.startswith("/")]
    for guard in ("-protocol_whitelist", "-format_whitelist", "-codec_whitelist", "-max_pixels"):
        assert guard in argv


def test_the_black_scan_and_the_storyboards_sheet_run_contained_too() -> None:
    scan = black_scan_argv(info(), 1000, 2)
    sheet = storyboard.sheet_argv(storyboard.layout(options(), info(), 12), 1000)
    for argv in (scan, sheet):
        assert argv[argv.index("-protocol_whitelist") + 1] == "file"
        assert "-format_whitelist" in argv
        assert "-codec_whitelist" in argv
        assert "-max_pixels" in argv
        assert not [arg for arg in argv if arg.startswith("/")]
    assert sheet[sheet.index("-format_whitelist") + 1] == sheet[sheet.index("-codec_whitelist") + 1] == "mjpeg"
    assert scan[scan.index("-t") + 1] == "30"  # the scan's bound
    assert "/" not in RANGE_AFTER_END  # a fixed sentence that names nothing internal


def test_frame_times_are_computed_in_interval_mode_and_read_in_the_others() -> None:
    span = TimeRange(Fraction(1), Fraction(5))
    assert frame_times(plan(options(count=2), info(), span, 50), 2, []) == [1, 3]
    printed = ["frame:0    pts:700000  pts_time:0.7", "framepipe.frame=1", "frame:1    pts:1900000 pts_time:1.9"]
    keyframes = plan(options(mode=ExtractionMode.KEYFRAMES), info(), span, 50)
    assert frame_times(keyframes, 2, printed) == [Fraction(17, 10), Fraction(29, 10)]
    with pytest.raises(MediaRejected):
        frame_times(keyframes, 3, printed)


def test_the_opening_black_ends_at_the_first_frame_that_is_not_black() -> None:
    opening = ["frame:0    pts:0", "lavfi.black_start=0", "frame:15   pts:1500000", "lavfi.black_end=1.5"]
    assert opening_black_end(opening, Fraction(30)) == Fraction(3, 2)
    assert opening_black_end(opening[:2], Fraction(30)) == 30  # black all through the scan
    later = ["frame:20   pts:2000000", "lavfi.black_start=2", "frame:25   pts:2500000", "lavfi.black_end=2.5"]
    assert opening_black_end(later, Fraction(30)) is None


def test_keyframes_only_is_judged_from_the_ranges_start() -> None:
    # 10 fps (time base 1/1000), keyframes at 0.5, 2.5, 4.5 s
    packets = parse_packets([f"0,{n * 100},{n * 100},{'K__' if n % 20 == 5 else '___'}" for n in range(60)], 0)
    source = info(time_base="1/1000")
    assert keyframes_cover_samples(packets, source, Fraction(2), 3, start=Fraction(1, 2))
    assert not keyframes_cover_samples(packets, source, Fraction(2), 3)


def test_the_storyboard_keeps_at_most_its_tiles_and_times_each_cue_to_the_next() -> None:
    sheet = storyboard.layout(options(), info(), 1200)
    assert (sheet.every, sheet.tiles, sheet.columns, sheet.rows) == (3, 400, 10, 40)
    assert (sheet.tile_width, sheet.tile_height) == (160, 120)
    small = storyboard.layout(options(width=100), info(), 3)
    assert (small.tile_width, small.tile_height, small.columns, small.rows) == (100, 75, 3, 1)
    entries = storyboard.index(small, ["a", "b", "c"], [Fraction(0), Fraction(1), Fraction(5, 2)], Fraction(4))
    assert [(e["start_seconds"], e["end_seconds"], e["x"]) for e in entries] == [
        (0, 1, 0),
        (1, 2.5, 100),
        (2.5, 4, 200),
    ]
    vtt = storyboard.webvtt(entries).decode()
    assert "00:00:01.000 --> 00:00:02.500\nstoryboard.jpg#xywh=100,0,100,75" in vtt
