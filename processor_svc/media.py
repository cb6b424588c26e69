"""What ffprobe says about a source, and whether we accept it: container allowlist, a video stream, and the
limits (duration, pixels, frame rate, streams, frames). Pure parsing and decisions; running ffprobe is the
service's job (through the runner)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from contracts import FailureCode

# Demuxers we trust with hostile files. Playlists (hls, concat), image sequences (image2, *_pipe) and anything
# else that can open other files or URLs is refused before ffmpeg sees the file.
ALLOWED_FORMATS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "flv", "mpegts", "asf")
FORMAT_WHITELIST = ",".join(ALLOWED_FORMATS)
NOT_ON_WHITELIST = "Format not on whitelist"
INPUT_GUARDS = ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST]


class MediaRejected(Exception):
    """The source cannot be processed, and retrying will not change that."""

    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message[:2000]


@dataclass(frozen=True)
class Limits:
    max_duration_seconds: float
    max_pixels: int
    max_frame_rate: float
    max_streams: int
    max_frames: int


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration: Fraction  # of the video stream when the container says, else of the whole file
    start_time: Fraction  # the file's start; ffmpeg shifts every timestamp by it
    stream_index: int
    codec: str
    width: int
    height: int
    frame_rate: float
    time_base: Fraction
    stream_count: int


def probe_argv(path: Path) -> list[str]:
    return ["ffprobe", "-v", "error", *INPUT_GUARDS, "-show_format", "-show_streams", "-of", "json", str(path)]


def packets_argv(path: Path, stream_index: int) -> list[str]:
    """Demux only (no decoding): the video packets' pts and flags, to see where keyframes are."""
    return [
        "ffprobe", "-v", "error", *INPUT_GUARDS, "-select_streams", str(stream_index),
        "-show_entries", "packet=pts,flags", "-of", "csv=p=0", str(path),
    ]  # fmt: skip


def rejection_for_failed_probe(stderr: str) -> MediaRejected:
    if NOT_ON_WHITELIST in stderr:
        return MediaRejected(FailureCode.UNSUPPORTED_FORMAT, "The file is not a video container we accept.")
    return MediaRejected(FailureCode.INVALID_MEDIA, f"The file cannot be read as a video: {_last_line(stderr)}")


def parse_probe(stdout: bytes) -> MediaInfo:
    try:
        report = json.loads(stdout)
        fmt, streams = report["format"], report.get("streams", [])
    except (ValueError, KeyError, TypeError):
        raise MediaRejected(FailureCode.INVALID_MEDIA, "ffprobe gave no usable description of the file.") from None
    format_name = str(fmt.get("format_name", ""))
    if not set(format_name.split(",")) <= set(ALLOWED_FORMATS):
        raise MediaRejected(FailureCode.UNSUPPORTED_FORMAT, f"Container {format_name!r} is not accepted.")
    video = next((s for s in streams if _is_video(s)), None)
    if video is None:
        raise MediaRejected(FailureCode.NO_VIDEO_STREAM, "The file has no video stream.")
    duration = _duration(video, fmt)
    if duration is None or duration <= 0:
        raise MediaRejected(FailureCode.INVALID_MEDIA, "The video's duration is unknown.")
    return MediaInfo(
        format_name=format_name,
        duration=duration,
        start_time=_fraction(fmt.get("start_time")) or Fraction(0),
        stream_index=int(video["index"]),
        codec=str(video.get("codec_name", "unknown")),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        frame_rate=_rate(video),
        time_base=_fraction(video.get("time_base")) or Fraction(1, 90000),
        stream_count=int(fmt.get("nb_streams") or len(streams)),
    )


def expected_frames(info: MediaInfo, interval: Fraction) -> int:
    """One frame at t = 0, interval, 2·interval, … < duration."""
    return max(1, math.ceil(info.duration / interval))


def check_limits(info: MediaInfo, limits: Limits, interval: Fraction) -> int:
    """The number of frames the job will produce, or the reason it must not run."""
    if info.duration > Fraction(limits.max_duration_seconds):
        raise MediaRejected(FailureCode.TOO_LONG, f"{float(info.duration):.0f} s is over the limit.")
    if info.width <= 0 or info.height <= 0:
        raise MediaRejected(FailureCode.INVALID_MEDIA, "The video stream has no picture size.")
    if info.width * info.height > limits.max_pixels:
        raise MediaRejected(FailureCode.TOO_LARGE, f"{info.width}x{info.height} is over the pixel limit.")
    if info.frame_rate > limits.max_frame_rate:
        raise MediaRejected(FailureCode.TOO_LARGE, f"{info.frame_rate:.0f} frames/s is over the limit.")
    if info.stream_count > limits.max_streams:
        raise MediaRejected(FailureCode.TOO_LARGE, f"{info.stream_count} streams is over the limit.")
    frames = expected_frames(info, interval)
    if frames > limits.max_frames:
        raise MediaRejected(FailureCode.TOO_LARGE, f"{frames} frames at this interval is over the limit.")
    return frames


def _is_video(stream: dict[str, Any]) -> bool:
    attached = (stream.get("disposition") or {}).get("attached_pic") == 1  # cover art, not a video
    return stream.get("codec_type") == "video" and not attached


def _duration(video: dict[str, Any], fmt: dict[str, Any]) -> Fraction | None:
    tag = (video.get("tags") or {}).get("DURATION")  # Matroska keeps per-stream durations in tags
    return _fraction(video.get("duration")) or _clock(tag) or _fraction(fmt.get("duration"))


def _rate(video: dict[str, Any]) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        rate = _fraction(video.get(key))
        if rate:
            return float(rate)
    return 0.0


def _fraction(value: object) -> Fraction | None:
    try:
        result = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return result if result.denominator else None


def _clock(value: object) -> Fraction | None:
    """'HH:MM:SS.fffffffff' → seconds."""
    try:
        hours, minutes, seconds = str(value).split(":")
        return Fraction(int(hours) * 3600 + int(minutes) * 60) + Fraction(seconds)
    except ValueError:
        return None


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no details"
