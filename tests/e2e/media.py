"""Test videos made by ffmpeg's own test source, and checks of what comes back (ZIPs of frames)."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

CODECS = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"],
    "mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
}


def make_video(path: Path, seconds: float, *, size: str = "160x120", rate: int = 10) -> Path:
    """A tiny video of `seconds` seconds; the container follows the file's extension (mp4, webm, mkv)."""
    codec = CODECS[path.suffix.lstrip(".")]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
         *codec, "-g", str(rate), str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def frames_in_zip(data: bytes, suffix: str) -> list[bytes]:
    """The ZIP's frames; fails the test on anything in it but frames and the manifest."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = [name for name in archive.namelist() if name != "manifest.json"]
        assert names, "the ZIP has no frames"
        assert all(name.endswith(suffix) for name in names), names
        return [archive.read(name) for name in names]


def decoded_size(frame: bytes, work_dir: Path) -> str:
    """`WIDTHxHEIGHT` of the image once ffmpeg has decoded it fully without a single complaint."""
    path = work_dir / "frame.img"
    path.write_bytes(frame)
    decode = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True, timeout=30
    )
    assert decode.returncode == 0, decode.stderr
    assert decode.stderr == "", decode.stderr
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0:s=x", str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return probe.stdout.strip()
