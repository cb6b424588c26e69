"""Test videos: ffmpeg's own test pattern (lavfi's testsrc2) encoded into a file, the one way every test and
benchmark makes the videos it uploads or processes."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

# The encoder for each container, fast enough for tests; the keyframe interval is added by make_video.
CODECS = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"],
    "mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
}


def make_video(
    path: Path,
    seconds: float,
    *,
    size: str = "160x120",
    rate: int | str = 10,
    output: Sequence[str] | None = None,
    timeout: float | None = 600,
) -> Path:
    """A video of `seconds` seconds of the test pattern at `size` and `rate` frames a second. `output`: ffmpeg's
    output options (encoder, filters, keyframes); by default the container's encoder from CODECS, chosen by the
    file's extension, with a keyframe every second."""
    if output is None:
        output = [*CODECS[path.suffix.lstrip(".")], "-g", str(rate)]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
         "-t", str(seconds), *output, str(path)],
        check=True, timeout=timeout,
    )  # fmt: skip
    return path
