"""What the brake (SIGSTOP/SIGCONT of a single-pass ffmpeg, processor_svc/extraction.py) earns: the same
extraction drained by a consumer as slow as an upload of `--mb-per-second`, with and without the brake, in one
run: the most frame bytes on disk at once, and the wall time (the brake must cost none: the consumer is the
bottleneck either way).

    .venv/bin/python bench/brake.py [--seconds 20] [--fps 5] [--mb-per-second 40] [--clean]
The input (1080p30 H.264 of lavfi's test pattern with film-grain noise, so that its PNG frames are as large as a
camera's, ~5 MB, not the few hundred KB of the clean pattern that `--clean` takes) is generated and cached under
/tmp/framepipe-bench.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from processor import video

from contracts import ImageFormat
from processor_svc.extraction import FRAME_PATTERN, FRAMES_AHEAD, finished_frames
from processor_svc.runner import Brake, ToolLimits, run_tool
from tests.support.videos import make_video

CACHE = Path("/tmp/framepipe-bench")
GIB = 1024**3
LIMITS = ToolLimits(address_space_bytes=4 * GIB, cpu_seconds=3600, file_bytes=GIB, open_files=256)


def grainy(seconds: int) -> Path:
    path = CACHE / f"1080p-{seconds}s-grain.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating {path}...", flush=True)
        output = ["-vf", "noise=alls=30:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "60",
                  "-pix_fmt", "yuv420p"]  # fmt: skip
        make_video(path.with_suffix(".part.mp4"), seconds, size="1920x1080", rate=30, output=output, timeout=None)
        path.with_suffix(".part.mp4").rename(path)
    return path


async def drained(source: Path, fps: int, rate: float, braked: bool) -> tuple[float, float, int]:
    """(seconds, most MB of frames on disk at once, frames) for a consumer taking `rate` bytes a second."""
    out = Path(tempfile.mkdtemp(prefix="bench-brake-"))
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(source), "-vf", f"fps={fps}",
            "-f", "image2", str(out / FRAME_PATTERN.format(ext="png"))]  # fmt: skip
    brake = Brake() if braked else None
    started = time.perf_counter()
    done = asyncio.ensure_future(run_tool(argv, out.with_suffix(".log"), LIMITS, None, brake))
    most, frames = 0, 0
    try:
        async for frame in finished_frames(out, ImageFormat.PNG, done, brake):
            most = max(most, sum(path.stat().st_size for path in out.iterdir()))
            size = frame.stat().st_size
            frame.unlink()
            frames += 1
            await asyncio.sleep(size / rate)  # the upload of this frame
        assert (await done).returncode == 0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return time.perf_counter() - started, most / 1e6, frames


async def main(seconds: int, fps: int, mb_per_second: float, clean: bool) -> None:
    source = video(f"1080p-{seconds}s", "1920x1080", seconds) if clean else grainy(seconds)
    rate = mb_per_second * 1e6
    pattern = "clean" if clean else "grainy"
    print(f"\n{seconds} s {pattern} 1080p30 at fps={fps} PNG, drained at {mb_per_second:.0f} MB/s; "
          f"brake at {FRAMES_AHEAD} frames ahead")  # fmt: skip
    results = {label: await drained(source, fps, rate, braked) for label, braked in (("brake", True), ("none", False))}
    for label, (wall, most, frames) in results.items():
        print(f"  {label:<6} {wall:7.2f} s   most on disk {most:8.1f} MB   frames {frames}")
    (with_wall, with_most, _), (without_wall, without_most, _) = results["brake"], results["none"]
    print(f"  disk without / with the brake: {without_most / with_most:5.1f}x; "
          f"time with / without: {with_wall / without_wall:4.2f}x")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--fps", type=int, default=5)
    parser.add_argument("--mb-per-second", type=float, default=40)
    parser.add_argument("--clean", action="store_true", help="lavfi's clean test pattern (small PNG frames)")
    options = parser.parse_args()
    asyncio.run(main(options.seconds, options.fps, options.mb_per_second, options.clean))
