"""A segmented extraction gives byte-identical frames to the single pass, numbered continuously, on videos whose
keyframes do not fall on the samples (B-frames, a GOP of 37 frames at 25 fps, a late start, a 1/1000 time base)."""

from __future__ import annotations

import hashlib
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from contracts.events import ImageFormat, ProcessingOptions
from ops.dev.localinfra import LocalS3
from processor_svc import segments
from processor_svc.extraction import FRAMES_DIR, SOURCE_NAME, check_extraction, extraction_argv
from processor_svc.media import expected_frames
from processor_svc.probing import inspect
from processor_svc.runner import Brake, Completed, run_tool
from processor_svc.segmented import SegmentedExtraction
from processor_svc.segments import Segment, keyframes_cover_samples, plan_segments, whole
from processor_svc.selection import plan, requested_range
from tests.integration.processor.harness import (
    TOOL_LIMITS,
    manifest,
    processor_env,
    processor_settings,
    result_zip,
    submit,
)
from tests.support import videos

MAX_PIXELS = 320 * 240


def misaligned(path: Path, *extra: str) -> Path:
    output = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "37", "-keyint_min", "37",
              "-sc_threshold", "0", "-pix_fmt", "yuv420p", *extra]  # fmt: skip
    return videos.make_video(path, 12, size="320x240", rate=25, output=output)


async def extract(source: Path, job: Path, interval: Fraction, fmt: ImageFormat, split: bool) -> list[tuple[str, str]]:
    """(file name, SHA-256) of every frame, in the order they were handed over, by the service's own commands run
    in a job directory (`job`) holding the source: the single pass, or segments side by side."""
    job.mkdir()
    shutil.copy(source, job / SOURCE_NAME)
    info, packets = await inspect(job / SOURCE_NAME, job, MAX_PIXELS, TOOL_LIMITS)
    options = ProcessingOptions(interval_seconds=float(interval), image_format=fmt)
    selection = plan(options, info, requested_range(options, info), 1000)
    samples = selection.frames
    assert samples == expected_frames(info, interval)
    segments = [whole(samples)]
    if split:  # small segments of little video, so a 12 s clip splits several times
        segments = plan_segments(
            packets, info, interval, samples, processes=2, max_samples=4, min_seconds=Fraction(1), skip_unseen=True
        )
        assert len(segments) > 1, segments
        assert any(s.seek is not None for s in segments), segments
    keyframes_only = keyframes_cover_samples(packets, info, interval, samples)

    async def run(segment: Segment, directory: Path, brake: Brake | None) -> Completed:
        argv = extraction_argv(
            info=info, options=options, selection=selection, threads=1, keyframes_only=keyframes_only,
            max_pixels=MAX_PIXELS, segment=segment if split else None, out_dir=directory.relative_to(job).as_posix(),
        )  # fmt: skip
        return await run_tool(argv, directory.with_suffix(".log"), TOOL_LIMITS, None, brake, cwd=job)

    def check(segment: Segment, completed: Completed, produced: int) -> None:
        check_extraction(completed, produced, selection, info, segment if split else None)

    out = job / FRAMES_DIR
    out.mkdir()
    extraction = SegmentedExtraction(segments, run, check, out, fmt, processes=2)
    frames = []
    try:
        async for frame in extraction.frames():
            frames.append((frame.name, hashlib.sha256(frame.read_bytes()).hexdigest()))
            frame.unlink()
    finally:
        await extraction.cancel()
    assert extraction.produced == len(frames)
    return frames


@pytest.mark.parametrize(
    ("name", "extra", "interval", "fmt"),
    [
        ("bframes.mp4", [], "1", ImageFormat.PNG),
        ("bframes.mkv", [], "1", ImageFormat.PNG),
        ("half.mp4", [], "0.5", ImageFormat.JPG),
        ("late-start.mp4", ["-output_ts_offset", "0.3"], "1", ImageFormat.PNG),
        ("millis.mp4", ["-video_track_timescale", "1000"], "2", ImageFormat.PNG),
    ],
)
async def test_segments_give_the_single_passs_frames_byte_for_byte_numbered_continuously(
    tmp_path: Path, name: str, extra: list[str], interval: str, fmt: ImageFormat
) -> None:
    source = misaligned(tmp_path / name, *extra)
    step = Fraction(interval)
    single = await extract(source, tmp_path / "single", step, fmt, split=False)
    split = await extract(source, tmp_path / "split", step, fmt, split=True)
    assert len(single) == int(12 / step)
    assert [name for name, _ in split] == [f"frame_{n:06d}.{fmt.value}" for n in range(1, len(single) + 1)]
    assert split == single


async def test_segments_that_skip_video_no_sample_needs_give_the_single_passs_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = misaligned(tmp_path / "gaps.mp4")
    info, packets = await inspect(source, tmp_path, MAX_PIXELS, TOOL_LIMITS)
    step = Fraction(2)

    def planned() -> list[Segment]:
        return plan_segments(
            packets, info, step, 6, processes=2, max_samples=4, min_seconds=Fraction(1), skip_unseen=True
        )

    regular = planned()
    monkeypatch.setattr(segments, "PROCESS_START_PIXELS", 320 * 240)  # a process costs one frame: skip every gap
    assert len(planned()) > len(regular), (planned(), regular)
    single = await extract(source, tmp_path / "single", step, ImageFormat.PNG, split=False)
    split = await extract(source, tmp_path / "split", step, ImageFormat.PNG, split=True)
    assert len(single) == 6
    assert split == single


async def test_a_job_split_into_segments_stores_the_single_passs_frames_and_the_commands_that_ran(
    amqp_url: str,
    local_s3: LocalS3,
    run_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the service: the same upload extracted as a single pass and as segments (a segment's least video
    lowered so a 12 s clip splits) gives the same ZIP of frames; the split one's manifest lists its commands."""
    source = misaligned(tmp_path / "clip.mp4")
    settings = processor_settings(amqp_url, local_s3, f"segments-{run_id}", tmp_path / "work", ffmpeg_threads=2)
    options = ProcessingOptions(interval_seconds=0.5, image_format=ImageFormat.JPG, width=200)
    async with processor_env(settings) as env:
        runs = []
        for least_pixels in (segments.MIN_SEGMENT_PIXELS, 2 * 25 * 320 * 240):
            monkeypatch.setattr(segments, "MIN_SEGMENT_PIXELS", least_pixels)
            video_id = await submit(env.publisher, env.storage, source, options=options)
            outcome = await env.outcomes.wait_final(video_id)
            assert outcome.event_type == "video.processed.v1", outcome
            archive = await result_zip(env.storage, outcome.result.key)
            runs.append((manifest(archive), [archive.read(f"frame_{n:06d}.jpg") for n in range(1, 25)]))
    (single, single_frames), (split, split_frames) = runs
    assert "ffmpeg_segments" not in single
    assert len(split["ffmpeg_segments"]) > 1
    assert any("-ss" in command for command in split["ffmpeg_segments"])
    assert split["frame_count"] == single["frame_count"] == 24
    assert [f["sha256"] for f in split["frames"]] == [f["sha256"] for f in single["frames"]]
    assert split_frames == single_frames
    assert split["ffmpeg_command"] == single["ffmpeg_command"]
