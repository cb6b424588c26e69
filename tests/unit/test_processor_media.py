"""Deciding on a source from ffprobe's description: allowlisted containers, a real video stream, the limits,
the frame count, and whether decoding keyframes only is exact."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest

from processor_svc.media import Limits, MediaInfo, MediaRejected, check_limits, expected_frames, parse_probe
from processor_svc.segments import Packet, keyframes_cover_samples, parse_packets

LIMITS = Limits(max_duration_seconds=100, max_pixels=1920 * 1080, max_frame_rate=60, max_streams=4, max_frames=50)


def probe(format_name: str = "mov,mp4,m4a,3gp,3g2,mj2", **video: Any) -> bytes:
    stream = {"index": 0, "codec_type": "video", "codec_name": "h264", "width": 160, "height": 120,
              "avg_frame_rate": "25/1", "time_base": "1/12800", "duration": "4.004000"}  # fmt: skip
    stream.update(video)
    audio = {"index": 1, "codec_type": "audio", "codec_name": "aac"}
    report = {"format": {"format_name": format_name, "duration": "5.0", "start_time": "0.000000", "nb_streams": 2}}
    report["streams"] = [audio, stream]
    return json.dumps(report).encode()


def rejected(stdout: bytes, limits: Limits = LIMITS, interval: str = "1") -> str:
    info = parse_probe(stdout)
    with pytest.raises(MediaRejected) as caught:
        check_limits(info, limits, expected_frames(info, Fraction(interval)))
    return caught.value.code.value


def test_a_described_mp4_gives_the_video_streams_facts() -> None:
    info = parse_probe(probe())
    assert (info.stream_index, info.width, info.height, info.frame_rate) == (0, 160, 120, 25.0)
    assert info.duration == Fraction("4.004")
    assert expected_frames(info, Fraction(1)) == 5  # frames at 0, 1, 2, 3, 4 < 4.004
    check_limits(info, LIMITS, 5)


@pytest.mark.parametrize("name", ["hls", "concat", "image2", "png_pipe", "mov,mp4,m4a,3gp,3g2,mj2,hls", "tty"])
def test_containers_outside_the_allowlist_are_unsupported(name: str) -> None:
    with pytest.raises(MediaRejected) as caught:
        parse_probe(probe(format_name=name))
    assert caught.value.code.value == "unsupported_format"


def test_cover_art_is_not_a_video_stream() -> None:
    with pytest.raises(MediaRejected) as caught:
        parse_probe(probe(disposition={"attached_pic": 1}))
    assert caught.value.code.value == "no_video_stream"


def test_matroska_stream_duration_comes_from_its_tag_before_the_files() -> None:
    info = parse_probe(probe("matroska,webm", duration=None, tags={"DURATION": "00:00:03.500000000"}))
    assert info.duration == Fraction("3.5")


def test_a_file_without_any_duration_is_invalid() -> None:
    report = json.loads(probe(duration="N/A"))
    del report["format"]["duration"]
    with pytest.raises(MediaRejected) as caught:
        parse_probe(json.dumps(report).encode())
    assert caught.value.code.value == "invalid_media"


@pytest.mark.parametrize(
    ("video", "interval", "code"),
    [
        ({"duration": "100.5"}, "1", "too_long"),
        ({"width": 1921, "height": 1080}, "1", "too_large"),
        ({"avg_frame_rate": "120/1"}, "1", "too_large"),
        ({"duration": "60"}, "1", "too_large"),  # 60 frames > 50
        ({"width": 0}, "1", "invalid_media"),
    ],
)
def test_each_limit_has_its_failure_code(video: dict[str, Any], interval: str, code: str) -> None:
    assert rejected(probe(**video), interval=interval) == code


def test_too_many_streams_is_too_large() -> None:
    report = json.loads(probe())
    report["format"]["nb_streams"] = 200
    assert rejected(json.dumps(report).encode()) == "too_large"


def test_frame_count_is_the_ceiling_of_duration_over_interval() -> None:
    info = parse_probe(probe(duration="0.5"))
    assert expected_frames(info, Fraction(1)) == 1
    assert expected_frames(parse_probe(probe(duration="2.0")), Fraction("0.4")) == 5
    assert expected_frames(parse_probe(probe(duration="2.01")), Fraction("0.4")) == 6


def info_with(time_base: str = "1/1000", start: str = "0") -> MediaInfo:
    return parse_probe(probe(time_base=time_base)).__class__(
        **{**parse_probe(probe(time_base=time_base)).__dict__, "start_time": Fraction(start)}
    )


def parsed(lines: list[str]) -> list[Packet]:
    packets = parse_packets(lines, 0)
    assert packets is not None
    return packets


def test_keyframes_suffice_when_every_sample_falls_on_one() -> None:
    # 10 fps, keyframe every 2 s, interval 2 s: samples at 0, 2, 4 are keyframes (decode order shuffled)
    lines = [f"0,{n * 100},N/A,{'K__' if n % 20 == 0 else '___'}" for n in range(60)]
    lines[1], lines[2] = lines[2], lines[1]
    packets = parsed(lines)
    assert keyframes_cover_samples(packets, info_with(), Fraction(2), 3)
    assert not keyframes_cover_samples(packets, info_with(), Fraction(1), 6)  # t = 1 s is not a keyframe


def test_the_files_start_time_decides_which_frame_is_on_screen_at_a_sample() -> None:
    # keyframes every 2 s, all 50 ms after the file's start: relative to the start they fall on the samples;
    # taken as if the file started at 0, the frame on screen at t = 2 s is the one at 1.95 s, not a keyframe
    packets = parsed([f"0,{n * 100 + 50},{n * 100},{'K__' if n % 20 == 0 else '___'}" for n in range(40)])
    assert keyframes_cover_samples(packets, info_with(start="0.05"), Fraction(2), 2)
    assert not keyframes_cover_samples(packets, info_with(), Fraction(2), 2)


def test_packets_without_timestamps_prove_nothing() -> None:
    assert parse_packets(["0,N/A,N/A,K__", "0,100,100,___"], 0) is None
    assert not keyframes_cover_samples(None, info_with(), Fraction(1), 1)
    assert not keyframes_cover_samples([], info_with(), Fraction(1), 1)


def test_only_the_chosen_video_streams_packets_are_read() -> None:
    lines = ["1,0,0,K__", "0,100,0,K__", "0,0,-100,___", "1,5,5,K__", "garbage"]
    assert parse_packets(lines, 0) == [Packet(0, -100, False), Packet(100, 0, True)]


@pytest.mark.parametrize("codec", ["prores", "theora", "rawvideo", "cinepak", "gif"])
def test_video_codecs_outside_the_allowlist_are_unsupported(codec: str) -> None:
    with pytest.raises(MediaRejected) as caught:
        parse_probe(probe(codec_name=codec))
    assert caught.value.code.value == "unsupported_format"
