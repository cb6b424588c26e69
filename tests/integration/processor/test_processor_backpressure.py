"""Back-pressure from the upload to ffmpeg: when frames are taken away more slowly than ffmpeg writes them,
ffmpeg is stopped and continued, so the frames on disk stay bounded and every frame still arrives once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from contracts import ImageFormat
from processor_svc.extraction import FRAME_PATTERN, finished_frames
from processor_svc.runner import Brake, run_tool
from tests.integration.processor.harness import TOOL_LIMITS
from tests.support.videos import CODECS, make_video

FRAMES = 150
AHEAD = 8


def extract_argv(ffmpeg: str, source: Path, out_dir: Path) -> list[str]:
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(source),
        "-f", "image2", str(out_dir / FRAME_PATTERN.format(ext="png")),
    ]  # fmt: skip


async def drain_slowly(out_dir: Path, brake: Brake | None, done: asyncio.Future[object]) -> tuple[int, int]:
    """(frames received, most frame files on disk at once) for a consumer that needs 20 ms per frame."""
    received, most = 0, 0
    async for frame in finished_frames(out_dir, ImageFormat.PNG, done, brake, ahead=AHEAD):  # type: ignore[arg-type]
        most = max(most, sum(1 for _ in out_dir.iterdir()))
        frame.unlink()
        received += 1
        await asyncio.sleep(0.02)
    return received, most


async def test_a_slow_consumer_stops_ffmpeg_and_the_frames_on_disk_stay_bounded(tmp_path: Path, ffmpeg: str) -> None:
    source = tmp_path / "clip.mp4"
    make_video(source, FRAMES / 25, size="320x240", rate=25, output=CODECS["mp4"])
    braked, unbraked = tmp_path / "braked", tmp_path / "unbraked"
    braked.mkdir()
    unbraked.mkdir()

    brake = Brake()
    argv = extract_argv(ffmpeg, source, braked)
    done = asyncio.ensure_future(run_tool(argv, tmp_path / "a.log", TOOL_LIMITS, None, brake))
    received, most = await drain_slowly(braked, brake, done)  # type: ignore[arg-type]
    assert (await done).returncode == 0
    assert received == FRAMES
    assert brake.times_engaged > 0
    assert most <= 2 * AHEAD + 4, f"{most} frames on disk at once"

    # The same consumer without the brake: ffmpeg runs far ahead (what the brake prevents).
    done = asyncio.ensure_future(run_tool(extract_argv(ffmpeg, source, unbraked), tmp_path / "b.log", TOOL_LIMITS))
    received, most_unbraked = await drain_slowly(unbraked, None, done)  # type: ignore[arg-type]
    assert received == FRAMES
    assert most_unbraked > 5 * AHEAD, most_unbraked
