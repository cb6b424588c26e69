"""Checks of what comes back from processing (ZIPs of frames, the frames themselves)."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path


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
