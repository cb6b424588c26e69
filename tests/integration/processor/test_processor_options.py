"""Every extraction option on real videos made here with ffmpeg's test sources, checked on the frames that come
back: how many, their size, their timestamps in the manifest, what they show (orientation, colour, luminance),
their format, the storyboard, and that the manifest's command makes the same frames again."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts import ExtractionMode, ImageFormat, ProcessingOptions
from ops.dev.localinfra import LocalS3
from processor_svc.failures import RANGE_AFTER_END
from processor_svc.selection import PNG_ENCODING
from tests.integration.processor.harness import (
    Env,
    image_md5,
    image_size,
    make_video,
    manifest,
    processor_env,
    processor_settings,
    result_zip,
    submit,
    tiny_h264,
)

X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
async def env(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Env]:
    settings = processor_settings(
        amqp_url, local_s3, f"proc-options-{run_id}", tmp_path_factory.mktemp("work"), max_frames=50
    )
    async with processor_env(settings) as env:
        yield env


async def extracted(env: Env, source: Path, **options: Any) -> tuple[Any, zipfile.ZipFile, dict[str, Any]]:
    video_id = await submit(env.publisher, env.storage, source, options=ProcessingOptions(**options))
    outcome = await env.outcomes.wait_final(video_id)
    assert outcome.event_type == "video.processed.v1", outcome
    archive = await result_zip(env.storage, outcome.result.key)
    listed = manifest(archive)
    assert outcome.frame_count == listed["frame_count"] == len(listed["frames"])
    for entry in listed["frames"]:  # each frame is in the ZIP with the hash the manifest states
        assert hashlib.sha256(archive.read(entry["file"])).hexdigest() == entry["sha256"]
    return outcome, archive, listed


def times(listed: dict[str, Any]) -> list[float]:
    return [frame["timestamp_seconds"] for frame in listed["frames"]]


def frames_of(archive: zipfile.ZipFile, listed: dict[str, Any]) -> list[bytes]:
    return [archive.read(frame["file"]) for frame in listed["frames"]]


def on_screen(path: Path, at: list[float]) -> list[str]:
    """Reference, independent of the service: every frame decoded (rgb24 md5, time from the file's start), and
    for each time the frame on screen then (the last one starting at or before it)."""
    shown = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5",
         "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    rows = [line.split(",") for line in shown.splitlines() if not line.startswith("#")]
    tb = next(line for line in shown.splitlines() if line.startswith("#tb 0:")).split(":")[1]
    num, den = (int(x) for x in tb.strip().split("/"))
    first = int(rows[0][2])
    decoded = [((int(row[2]) - first) * num / den, row[5].strip()) for row in rows]
    return [[md5 for t, md5 in decoded if t <= moment + 1e-9][-1] for moment in at]


def mean_rgb(image: bytes, tmp: Path, crop: str = "iw:ih:0:0") -> tuple[int, int, int]:
    path = tmp / "mean.img"
    path.write_bytes(image)
    pixel = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"crop={crop},scale=1:1:flags=area", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip
    return pixel[0], pixel[1], pixel[2]


def luma(rgb: tuple[int, int, int]) -> float:
    red, green, blue = rgb
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def close(got: tuple[int, int, int], want: tuple[int, int, int], tolerance: int = 16) -> bool:
    return all(abs(g - w) <= tolerance for g, w in zip(got, want, strict=True))


async def test_a_range_with_an_interval_takes_the_frames_on_screen_from_its_start(
    env: Env, media: Path, tmp_path: Path
) -> None:
    source = tiny_h264(media / "range.mp4", 4)
    _, archive, listed = await extracted(env, source, start_seconds=1.25, end_seconds=3.0, interval_seconds=0.5)
    assert times(listed) == [1.25, 1.75, 2.25, 2.75]
    got = [image_md5(frame, tmp_path / "x.png") for frame in frames_of(archive, listed)]
    assert got == on_screen(source, [1.25, 1.75, 2.25, 2.75])
    assert listed["range"] == {"start_seconds": 1.25, "end_seconds": 3.0}
    assert listed["options"]["start_seconds"] == 1.25
    assert listed["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_progress_is_measured_over_the_range(env: Env, media: Path) -> None:
    source = tiny_h264(media / "progress.mp4", 10)
    outcome, _, listed = await extracted(env, source, start_seconds=9, interval_seconds=0.25)
    assert times(listed) == [9.0, 9.25, 9.5, 9.75]
    progress = [p.progress for p in env.outcomes.of_type(outcome.video_id, "video.processing.progress.v1")]
    # over the whole video, the last second could not report more than 0.1
    assert progress, "no progress reported"
    assert max(progress) > 0.2, progress
    assert progress == sorted(progress)


async def test_a_count_spreads_that_many_frames_evenly_over_the_range(env: Env, media: Path, tmp_path: Path) -> None:
    source = tiny_h264(media / "count.mp4", 3)
    _, archive, listed = await extracted(env, source, count=4, end_seconds=2.0, image_format=ImageFormat.PNG)
    assert times(listed) == [0.0, 0.5, 1.0, 1.5]
    got = [image_md5(frame, tmp_path / "x.png") for frame in frames_of(archive, listed)]
    assert got == on_screen(source, [0.0, 0.5, 1.0, 1.5])


async def test_keyframes_mode_takes_every_keyframe_up_to_max_frames(env: Env, media: Path, tmp_path: Path) -> None:
    source = tiny_h264(
        media / "keyframes.mp4", 4, "10", "160x120", "-force_key_frames", "0,0.7,1.9,3.1", "-g", "1000",
        "-sc_threshold", "0",
    )  # fmt: skip
    _, archive, listed = await extracted(env, source, mode=ExtractionMode.KEYFRAMES)
    assert times(listed) == [0.0, 0.7, 1.9, 3.1]
    got = [image_md5(frame, tmp_path / "x.png") for frame in frames_of(archive, listed)]
    assert got == on_screen(source, [0.0, 0.7, 1.9, 3.1])
    _, _, bounded = await extracted(env, source, mode=ExtractionMode.KEYFRAMES, max_frames=2, start_seconds=0.5)
    assert times(bounded) == [0.7, 1.9]


async def test_scenes_mode_takes_one_frame_per_scene(env: Env, media: Path, tmp_path: Path) -> None:
    colours = {"red": (255, 0, 0), "white": (255, 255, 255), "blue": (0, 0, 255), "yellow": (255, 255, 0)}
    inputs = ";".join(f"color=c={c}:s=160x120:r=10:d={d}[{c}]" for c, d in zip(colours, (1, 1.5, 1, 1), strict=True))
    joined = "".join(f"[{c}]" for c in colours) + f"concat=n={len(colours)}:v=1"
    source = make_video(media / "scenes.mp4", "-filter_complex", f"{inputs};{joined}", *X264)
    _, archive, listed = await extracted(env, source, mode=ExtractionMode.SCENES, image_format=ImageFormat.JPG)
    assert times(listed) == [0.0, 1.0, 2.5, 3.5]
    seen = [mean_rgb(frame, tmp_path) for frame in frames_of(archive, listed)]
    assert all(close(g, w) for g, w in zip(seen, colours.values(), strict=True)), seen
    _, _, bounded = await extracted(env, source, mode=ExtractionMode.SCENES, start_seconds=1.2, max_frames=2)
    assert times(bounded) == [1.2, 2.5]  # the range's first frame, then the next scene


async def test_a_black_opening_is_skipped(env: Env, media: Path, tmp_path: Path) -> None:
    graph = "color=c=black:s=160x120:r=10:d=1.5[b];testsrc2=s=160x120:r=10:d=2[t];[b][t]concat=n=2:v=1"
    source = make_video(media / "black.mp4", "-filter_complex", graph, *X264)
    _, archive, listed = await extracted(env, source, skip_black_start=True)
    assert times(listed) == [1.5, 2.5]
    assert luma(mean_rgb(frames_of(archive, listed)[0], tmp_path)) > 60  # testsrc2, not black
    _, _, plain = await extracted(env, source)
    assert times(plain) == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("box", "size"),
    [({"width": 100}, (100, 75)), ({"width": 100, "height": 50}, (67, 50)), ({"width": 640}, (320, 240))],
)
async def test_frames_fit_inside_the_box_aspect_kept_never_enlarged(
    env: Env, media: Path, tmp_path: Path, box: dict[str, int], size: tuple[int, int]
) -> None:
    source = tiny_h264(media / "fit.mp4", 1, "10", "320x240")
    _, archive, listed = await extracted(env, source, **box)
    assert [image_size(frame, tmp_path / "x.png") for frame in frames_of(archive, listed)] == [size]


async def test_a_rotated_video_gives_upright_frames_and_fits_by_its_displayed_size(
    env: Env, media: Path, tmp_path: Path
) -> None:
    graph = "color=c=white:s=160x120:r=10:d=1[w];color=c=red:s=40x120:r=10:d=1[r];[w][r]overlay=0:0"
    plain = make_video(media / "band.mp4", "-filter_complex", graph, *X264)  # a red band on the left
    source = make_video(media / "band-rotated.mp4", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90")
    recorded = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0", str(source)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    assert recorded == "90"  # the display matrix is really there: turn 90° counterclockwise to display
    _, archive, listed = await extracted(env, source, width=60, image_format=ImageFormat.JPG)
    frame = frames_of(archive, listed)[0]
    assert image_size(frame, tmp_path / "x.jpg") == (60, 80)
    # turned a quarter counterclockwise, as a player shows it, the left band is at the bottom
    assert close(mean_rgb(frame, tmp_path, "iw:ih/5:0:ih*4/5"), (255, 0, 0), 40)
    assert close(mean_rgb(frame, tmp_path, "iw:ih/2:0:0"), (255, 255, 255), 40)


async def test_hdr_frames_are_tone_mapped_instead_of_washed_out(env: Env, media: Path, tmp_path: Path) -> None:
    # black on the left, white (203 cd/m², HDR's reference white) on the right, 10-bit PQ BT.2020
    graph = "color=c=white:s=160x120:r=10:d=1[w];color=c=black:s=80x120:r=10:d=1[b];[w][b]overlay=0:0"
    to_pq = "zscale=tin=bt709:min=bt709:pin=bt709:rin=full:t=smpte2084:m=bt2020nc:p=bt2020:r=tv:npl=203"
    source = make_video(
        media / "pq.mkv", "-filter_complex", f"{graph},{to_pq},format=yuv420p10le", "-c:v", "libx265",
        "-x265-params", "log-level=0", "-color_trc", "smpte2084", "-color_primaries", "bt2020",
        "-colorspace", "bt2020nc", "-t", "1",
    )  # fmt: skip
    naive = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-frames:v", "1", "-f", "image2", "-c:v", "png", "-"],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip
    washed_white = luma(mean_rgb(naive, tmp_path, "40:120:110:0"))
    assert washed_white < 170  # without tone-mapping the white is grey: this test can tell
    _, archive, listed = await extracted(env, source)
    frame = frames_of(archive, listed)[0]
    white = luma(mean_rgb(frame, tmp_path, "40:120:110:0"))
    black = luma(mean_rgb(frame, tmp_path, "40:120:10:0"))
    assert white > 200, white
    assert black < 30, black
    assert white - black > washed_white - luma(mean_rgb(naive, tmp_path, "40:120:10:0")) + 40


async def test_jpeg_quality_trades_size_and_webp_frames_are_webp(env: Env, media: Path, tmp_path: Path) -> None:
    source = tiny_h264(media / "quality.mp4", 2, "10", "320x240")
    sizes = {}
    for quality in (20, 95):
        _, archive, listed = await extracted(env, source, image_format=ImageFormat.JPG, quality=quality)
        frames = frames_of(archive, listed)
        assert all(frame.startswith(b"\xff\xd8\xff") for frame in frames)
        sizes[quality] = sum(map(len, frames))
    assert sizes[20] * 2 < sizes[95], sizes
    _, archive, listed = await extracted(env, source, image_format=ImageFormat.WEBP, quality=50)
    assert [f["file"] for f in listed["frames"]] == ["frame_000001.webp", "frame_000002.webp"]
    for frame in frames_of(archive, listed):
        assert (frame[:4], frame[8:12]) == (b"RIFF", b"WEBP")
        assert image_size(frame, tmp_path / "x.webp") == (320, 240)


def test_png_frames_keep_every_pixel_of_ffmpegs_default_png_in_no_more_bytes(tmp_path: Path) -> None:
    """The PNG settings (PNG_ENCODING) are lossless and cost no size against ffmpeg's defaults, on a 1080p test
    pattern and on a noisy picture (what a camera gives)."""
    for name, source in [("pattern", "testsrc2=size=1920x1080"), ("noise", "mandelbrot=size=1920x1080,noise=alls=12")]:
        made = {}
        for settings, args in [("default", []), ("ours", PNG_ENCODING)]:
            out = tmp_path / f"{name}-{settings}.png"
            subprocess.run(
                ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-frames:v", "1", *args, str(out)], check=True
            )
            made[settings] = out.read_bytes()
        assert image_md5(made["ours"], tmp_path / "a.png") == image_md5(made["default"], tmp_path / "b.png")
        assert len(made["ours"]) <= len(made["default"]) * 1.02, (name, len(made["ours"]), len(made["default"]))


async def test_the_storyboard_tiles_the_frames_with_a_webvtt_and_json_index(
    env: Env, media: Path, tmp_path: Path
) -> None:
    source = tiny_h264(media / "storyboard.mp4", 3, "10", "320x240")
    _, archive, listed = await extracted(env, source, interval_seconds=0.25, storyboard=True)
    assert listed["frame_count"] == 12
    assert {"storyboard/storyboard.jpg", "storyboard/storyboard.vtt", "storyboard/storyboard.json"} <= set(
        archive.namelist()
    )
    sheet = archive.read("storyboard/storyboard.jpg")
    assert sheet.startswith(b"\xff\xd8\xff")
    assert image_size(sheet, tmp_path / "sheet.jpg") == (10 * 160, 2 * 120)
    index = json.loads(archive.read("storyboard/storyboard.json"))
    assert (index["columns"], index["rows"], index["tile_width"], index["tile_height"]) == (10, 2, 160, 120)
    tiles = index["tiles"]
    assert [t["file"] for t in tiles] == [f["file"] for f in listed["frames"]]
    assert [(t["start_seconds"], t["end_seconds"]) for t in tiles] == [(k / 4, (k + 1) / 4) for k in range(12)]
    assert (tiles[11]["x"], tiles[11]["y"]) == (160, 120)
    vtt = archive.read("storyboard/storyboard.vtt").decode().split("\n\n")
    assert vtt[0] == "WEBVTT"
    assert vtt[1] == "00:00:00.000 --> 00:00:00.250\nstoryboard.jpg#xywh=0,0,160,120"
    assert vtt[12].strip() == "00:00:02.750 --> 00:00:03.000\nstoryboard.jpg#xywh=160,120,160,120"


async def test_the_manifests_command_makes_the_same_frames_again(env: Env, media: Path, tmp_path: Path) -> None:
    source = tiny_h264(media / "again.mp4", 4, "10", "320x240")
    _, _, listed = await extracted(
        env, source, start_seconds=0.5, interval_seconds=0.75, width=100, image_format=ImageFormat.JPG, quality=60
    )
    command = listed["ffmpeg_command"]
    assert all(not arg.startswith("/") for arg in command)  # no path of the worker's
    (tmp_path / "frames").mkdir()
    shutil.copy(source, tmp_path / "source")
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    again = [hashlib.sha256((tmp_path / "frames" / f["file"]).read_bytes()).hexdigest() for f in listed["frames"]]
    assert again == [f["sha256"] for f in listed["frames"]]
    assert len(again) == 5


async def test_a_range_starting_after_the_end_fails_the_video_with_its_message(env: Env, media: Path) -> None:
    source = tiny_h264(media / "short.mp4", 2)
    video_id = await submit(env.publisher, env.storage, source, options=ProcessingOptions(start_seconds=5))
    outcome = await env.outcomes.wait_final(video_id)
    assert outcome.event_type == "video.failed.v1", outcome
    assert (outcome.error.code, outcome.error.message) == ("invalid_media", RANGE_AFTER_END)
    assert len(env.outcomes.of_type(video_id, "video.processing.started.v1")) == 1


async def test_the_frames_the_options_ask_for_count_against_the_limit(env: Env, media: Path) -> None:
    source = tiny_h264(media / "many.mp4", 2)
    video_id = await submit(env.publisher, env.storage, source, options=ProcessingOptions(count=51))
    outcome = await env.outcomes.wait_final(video_id)
    assert (outcome.event_type, outcome.error.code) == ("video.failed.v1", "too_large")
    _, _, listed = await extracted(env, source, count=50)  # the limit itself is fine
    assert listed["frame_count"] == 50
