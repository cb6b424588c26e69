"""processor_svc on real videos of every shape we promise to handle: the right number of frames at the right
timestamps, each one a decodable image of the right size, PNG and JPEG, in a ZIP whose hash the event states."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import pytest

from contracts.events import ImageFormat, ProcessingOptions
from ops.dev.localinfra import LocalS3
from processor_svc.extraction import FRAMES_DIR, SOURCE_NAME, extraction_argv
from processor_svc.previews import PREVIEW_COUNT, PreviewCollector
from processor_svc.probing import probe
from processor_svc.segments import Segment
from processor_svc.selection import plan, requested_range
from tests.integration.processor.harness import (
    LAVFI,
    TOOL_LIMITS,
    Env,
    decoded_frames,
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
from tests.support import videos

SRC = "testsrc2=size=160x120:rate=10"


@pytest.fixture(scope="module")
async def env(
    amqp_url: str, local_s3: LocalS3, run_id: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Env]:
    settings = processor_settings(amqp_url, local_s3, f"proc-media-{run_id}", tmp_path_factory.mktemp("work"))
    async with processor_env(settings) as env:
        yield env


async def process(env: Env, source: Path, interval: float, image_format: ImageFormat) -> tuple[object, object]:
    video_id = await submit(env.publisher, env.storage, source, interval=interval, image_format=image_format)
    outcome = await env.outcomes.wait_final(video_id)
    assert outcome.event_type == "video.processed.v1", outcome
    archive = await result_zip(env.storage, outcome.result.key)
    return outcome, archive


CASES = {
    "h264_mp4_png": (["-c:v", "libx264", "-pix_fmt", "yuv420p"], "mp4", 3, 1.0, ImageFormat.PNG, 3, (160, 120)),
    "vp9_webm_jpg": (["-c:v", "libvpx-vp9", "-deadline", "realtime"], "webm", 3, 1.0, ImageFormat.JPG, 3, (160, 120)),
    "hevc_mkv_png": (["-c:v", "libx265", "-x265-params", "log-level=0"], "mkv", 2, 1.0, ImageFormat.PNG, 2, (160, 120)),
    "mpeg4_avi_jpg": (["-c:v", "mpeg4"], "avi", 3, 1.0, ImageFormat.JPG, 3, (160, 120)),
    "half_second_png": (["-c:v", "libx264"], "mp4", 0.5, 1.0, ImageFormat.PNG, 1, (160, 120)),
    "fractional_interval_jpg": (["-c:v", "libx264"], "mp4", 2, 0.4, ImageFormat.JPG, 5, (160, 120)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
async def test_each_supported_video_gives_one_decodable_frame_per_interval(
    env: Env, media: Path, tmp_path: Path, case: str
) -> None:
    codec_args, ext, seconds, interval, image_format, frames, size = CASES[case]
    source = videos.make_video(media / f"{case}.{ext}", seconds, output=codec_args)
    outcome, archive = await process(env, source, interval, image_format)
    names = [f"frame_{n:06d}.{image_format.value}" for n in range(1, frames + 1)]
    assert outcome.frame_count == frames
    assert archive.namelist() == [*names, "manifest.json"]
    listed = manifest(archive)
    assert [f["file"] for f in listed["frames"]] == names
    assert [f["timestamp_seconds"] for f in listed["frames"]] == [round(k * interval, 6) for k in range(frames)]
    assert listed["image_format"] == image_format.value
    assert listed["interval_seconds"] == interval
    assert listed["source_filename"] == source.name
    for name in names:
        assert image_size(archive.read(name), tmp_path / f"x.{image_format.value}") == size


async def test_the_event_states_the_stored_zips_size_and_sha256(env: Env, media: Path) -> None:
    source = tiny_h264(media / "hash.mp4", 2)
    outcome, _ = await process(env, source, 1.0, ImageFormat.PNG)
    stored = await env.storage.read(outcome.result.key)
    assert outcome.result.key == f"results/{outcome.video_id}.zip"
    assert outcome.result.bucket == env.settings.s3_bucket
    assert outcome.result.size_bytes == len(stored)
    assert outcome.result.sha256 == hashlib.sha256(stored).hexdigest()
    assert outcome.duration_seconds == pytest.approx(2.0, abs=0.01)
    assert outcome.processing_seconds > 0
    started = env.outcomes.of_type(outcome.video_id, "video.processing.started.v1")
    assert [s.attempt for s in started] == [1]


async def test_an_odd_sized_video_keeps_its_exact_size(env: Env, media: Path, tmp_path: Path) -> None:
    source = make_video(
        media / "odd.mp4", *LAVFI, "testsrc=size=641x359:rate=10", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv444p"
    )
    assert image_size(source.read_bytes(), tmp_path / "src.mp4") == (641, 359)  # (testsrc2 would round it down)
    _, archive = await process(env, source, 1.0, ImageFormat.PNG)
    assert image_size(archive.read("frame_000001.png"), tmp_path / "x.png") == (641, 359)


async def test_a_rotated_phone_video_gives_upright_frames(env: Env, media: Path, tmp_path: Path) -> None:
    plain = tiny_h264(media / "unrotated.mp4", 2)
    # a display matrix as phones write it (ffmpeg 5.1 sets it on stream copy, not while encoding)
    source = make_video(media / "rotated.mp4", "-i", str(plain), "-c", "copy", "-metadata:s:v", "rotate=90")
    _, archive = await process(env, source, 1.0, ImageFormat.JPG)
    assert image_size(archive.read("frame_000001.jpg"), tmp_path / "x.jpg") == (120, 160)


@pytest.mark.parametrize(
    ("name", "args", "interval"),
    [
        # NTSC rate: frames do not fall on whole seconds, and the last one is still on screen at t = 4 s
        ("ntsc", ["-i", "testsrc2=size=160x120:rate=30000/1001", "-frames:v", "120", "-c:v", "libx264"], 1.0),
        # variable frame rate: 10 frames 0.1 s apart, then 20 frames 0.25 s apart
        (
            "vfr",
            ["-i", SRC, "-frames:v", "30", "-vf", "setpts='if(lt(N,10),N*0.1,1+(N-10)*0.25)/TB'",
             "-fps_mode", "vfr", "-c:v", "libx264"],
            1.0,
        ),
        ("fractional", ["-i", "testsrc2=size=160x120:rate=25", "-t", "2", "-c:v", "libx264"], 0.3),
    ],
)  # fmt: skip
async def test_each_frame_is_the_one_on_screen_at_its_timestamp(
    env: Env, media: Path, tmp_path: Path, name: str, args: list[str], interval: float
) -> None:
    source = make_video(media / f"timing-{name}.mkv", "-f", "lavfi", *args)
    expected = decoded_frames(source, interval)
    _, archive = await process(env, source, interval, ImageFormat.PNG)
    frames = [n for n in archive.namelist() if n.endswith(".png")]
    assert [image_md5(archive.read(n), tmp_path / "x.png") for n in frames] == expected


async def test_an_audio_only_file_fails_with_no_video_stream_and_is_not_retried(env: Env, media: Path) -> None:
    source = make_video(media / "audio.mp4", *LAVFI, "sine=frequency=440:duration=2", "-c:a", "aac")
    video_id = await submit(env.publisher, env.storage, source)
    outcome = await env.outcomes.wait_final(video_id)
    assert outcome.event_type == "video.failed.v1"
    assert outcome.error.code == "no_video_stream"
    assert len(env.outcomes.of_type(video_id, "video.processing.started.v1")) == 1


@pytest.mark.parametrize(
    ("name", "size", "seconds", "expected"),
    [
        ("landscape", "1280x720", 6, [(320, 180)] * 4),  # the first four of six frames, scaled into 320x240
        ("portrait", "360x640", 2, [(135, 240)] * 2),  # fewer frames than previews: one each
        ("small", "160x120", 1, [(160, 120)]),  # never enlarged
    ],
)
async def test_the_first_frames_come_back_as_small_jpeg_previews(
    env: Env, media: Path, tmp_path: Path, name: str, size: str, seconds: int, expected: list[tuple[int, int]]
) -> None:
    source = tiny_h264(media / f"preview-{name}.mp4", seconds, "10", size)
    outcome, _ = await process(env, source, 1.0, ImageFormat.PNG)
    keys = [ref.key for ref in outcome.previews]
    assert keys == [f"results/previews/{outcome.video_id}/{n}.jpg" for n in range(1, len(expected) + 1)]
    assert {ref.bucket for ref in outcome.previews} == {env.settings.s3_bucket}
    previews = [await env.storage.read(key) for key in keys]
    assert all(p.startswith(b"\xff\xd8\xff") for p in previews)  # JPEG, whatever the frames' format
    assert [image_size(p, tmp_path / "p.jpg") for p in previews] == expected


async def test_the_extraction_makes_the_previews_of_its_first_frames_itself(media: Path, tmp_path: Path) -> None:
    """The single pass writes previews 1-4 beside its frames; a segment from sample 2 on writes 3 and 4, the same
    pictures; the collector hands them over without an ffmpeg run of its own, and scales a frame when none is."""
    source = tiny_h264(media / "own-previews.mp4", 6, "10", "640x360")
    options = ProcessingOptions()
    info = await probe(source, tmp_path, 4096 * 4096, TOOL_LIMITS)
    selection = plan(options, info, requested_range(options, info, None), 100)
    made: dict[str, dict[str, bytes]] = {}
    for name, segment in [("single", None), ("later", Segment(2, 3, Fraction(2), None))]:
        job = tmp_path / name
        (job / FRAMES_DIR).mkdir(parents=True)
        shutil.copy(source, job / SOURCE_NAME)
        previews = PREVIEW_COUNT - (0 if segment is None else segment.first)
        argv = extraction_argv(info=info, options=options, selection=selection, threads=1, keyframes_only=False,
                               max_pixels=4096 * 4096, previews=previews, segment=segment)  # fmt: skip
        subprocess.run(argv, cwd=job, check=True, capture_output=True, timeout=60)
        made[name] = {path.name: path.read_bytes() for path in job.glob("preview-*")}
    assert sorted(made["single"]) == [f"preview-{n}.jpg" for n in range(1, PREVIEW_COUNT + 1)]
    assert sorted(made["later"]) == ["preview-3.jpg", "preview-4.jpg"]
    assert all(made["later"][name] == made["single"][name] for name in made["later"])
    assert {image_size(data, tmp_path / "p.jpg") for data in made["single"].values()} == {(320, 180)}

    async def frames(job: Path) -> AsyncIterator[Path]:
        for frame in sorted((job / FRAMES_DIR).iterdir()):
            yield frame

    for made_in in (tmp_path / "single", None):
        collector = PreviewCollector(tmp_path / f"collector-{made_in is None}", TOOL_LIMITS, made_in=made_in)
        assert len([frame async for frame in collector.tap(frames(tmp_path / "single"))]) == 6
        images = await collector.images()
        assert [image.name for image in images] == (
            [f"preview-{n}.jpg" for n in range(1, 5)] if made_in else [f"{n}.jpg" for n in range(1, 5)]
        )
        assert [image.parent == made_in for image in images] == [made_in is not None] * 4  # no ffmpeg run of its own


async def test_previews_are_the_first_frames_in_their_order(env: Env, media: Path, tmp_path: Path) -> None:
    colours = {"red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}
    inputs = ";".join(f"color=c={c}:s=320x240:r=10:d=1[{c}]" for c in colours)
    joined = "".join(f"[{c}]" for c in colours) + f"concat=n={len(colours)}:v=1"
    source = make_video(media / "colours.mp4", "-filter_complex", f"{inputs};{joined}", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", "-t", "5")  # fmt: skip
    outcome, _ = await process(env, source, 1.0, ImageFormat.JPG)
    seen = [mean_colour(await env.storage.read(ref.key), tmp_path) for ref in outcome.previews]
    for got, want in zip(seen, colours.values(), strict=True):
        assert all(abs(g - w) <= 12 for g, w in zip(got, want, strict=True)), (seen, list(colours))


def mean_colour(image: bytes, tmp: Path) -> tuple[int, int, int]:
    path = tmp / "mean.jpg"
    path.write_bytes(image)
    pixel = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", "scale=1:1:flags=area", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip
    return pixel[0], pixel[1], pixel[2]
