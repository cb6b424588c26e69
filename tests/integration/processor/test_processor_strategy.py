"""Decoding keyframes only is chosen only when it is exact: it must give byte-identical frames to the single
pass that decodes everything (the bench shows the speed; here the equality)."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from contracts.events import ImageFormat, ProcessingOptions
from processor_svc.extraction import FRAMES_DIR, SOURCE_NAME, extraction_argv
from processor_svc.media import expected_frames
from processor_svc.probing import inspect, probe
from processor_svc.runner import run_tool
from processor_svc.segments import keyframes_cover_samples
from processor_svc.selection import plan, requested_range
from tests.integration.processor.harness import TOOL_LIMITS
from tests.support import videos

MAX_PIXELS = 160 * 120


def gop_video(path: Path, gop: int, *extra: str) -> Path:
    output = ["-c:v", "libx264", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", *extra]
    return videos.make_video(path, 12, rate=25, output=output)


async def extract(
    source: Path, out: Path, interval: Fraction, fmt: ImageFormat, keyframes_only: bool, start: float = 0
) -> list[bytes]:
    """The service's extraction command, run in a job directory of its own (`out`) holding the source."""
    out.mkdir()
    (out / FRAMES_DIR).mkdir()
    shutil.copy(source, out / SOURCE_NAME)
    info = await probe(out / SOURCE_NAME, out, MAX_PIXELS, TOOL_LIMITS)
    options = ProcessingOptions(interval_seconds=float(interval), image_format=fmt, start_seconds=start)
    selection = plan(options, info, requested_range(options, info), 1000)
    argv = extraction_argv(
        info=info, options=options, selection=selection, threads=2, keyframes_only=keyframes_only,
        max_pixels=MAX_PIXELS,
    )  # fmt: skip
    completed = await run_tool(argv, out / "ffmpeg.log", TOOL_LIMITS, cwd=out)
    assert completed.returncode == 0, completed.stderr_tail
    return [p.read_bytes() for p in sorted((out / FRAMES_DIR).iterdir())]


@pytest.mark.parametrize(("interval", "fmt"), [("2", ImageFormat.PNG), ("4", ImageFormat.JPG)])
async def test_keyframes_only_gives_the_same_frames_as_decoding_everything(
    tmp_path: Path, interval: str, fmt: ImageFormat
) -> None:
    source = gop_video(tmp_path / "gop2s.mp4", 50)
    info, packets = await inspect(source, tmp_path, MAX_PIXELS, TOOL_LIMITS)
    step = Fraction(interval)
    assert keyframes_cover_samples(packets, info, step, expected_frames(info, step))
    sparse = await extract(source, tmp_path / "sparse", step, fmt, keyframes_only=True)
    full = await extract(source, tmp_path / "full", step, fmt, keyframes_only=False)
    assert len(full) == 12 // int(interval)
    assert sparse == full


async def test_keyframes_only_from_a_ranges_start_gives_the_same_frames(tmp_path: Path) -> None:
    source = gop_video(tmp_path / "gop2s.mp4", 50)
    info, packets = await inspect(source, tmp_path, MAX_PIXELS, TOOL_LIMITS)
    start, step = Fraction(4), Fraction(2)
    assert keyframes_cover_samples(packets, info, step, 4, start)  # keyframes at 4, 6, 8, 10 s
    assert not keyframes_cover_samples(packets, info, step, 4, Fraction(5))
    sparse = await extract(source, tmp_path / "sparse", step, ImageFormat.PNG, keyframes_only=True, start=4)
    full = await extract(source, tmp_path / "full", step, ImageFormat.PNG, keyframes_only=False, start=4)
    assert len(full) == 4
    assert sparse == full
    from_zero = await extract(source, tmp_path / "zero", step, ImageFormat.PNG, keyframes_only=False)
    assert from_zero[2:] == full  # the seek lands on the same frames a decode from the start reaches


async def test_keyframes_only_is_not_chosen_when_a_sample_falls_between_keyframes(tmp_path: Path) -> None:
    aligned = gop_video(tmp_path / "gop2s.mp4", 50)
    misaligned = gop_video(tmp_path / "gop37.mp4", 37)
    for source, interval in ((aligned, "1"), (misaligned, "2")):
        info, packets = await inspect(source, tmp_path, MAX_PIXELS, TOOL_LIMITS)
        step = Fraction(interval)
        assert not keyframes_cover_samples(packets, info, step, expected_frames(info, step)), source.name
