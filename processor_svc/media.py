"""What ffprobe says about a source, and whether we accept it: container and codec allowlists, a video stream,
and the limits (duration, pixels, frame rate, streams, frames); and what a failed tool run means. Pure parsing and
decisions; running ffprobe is the service's job (through the runner)."""

from __future__ import annotations

import json
import math
import signal
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from contracts import FailureCode
from processor_svc.runner import Completed

# Demuxers we trust with hostile files. Playlists (hls, concat), image sequences (image2, *_pipe) and anything
# else that can open other files or URLs is refused before ffmpeg sees the file.
ALLOWED_FORMATS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "flv", "mpegts", "asf")
FORMAT_WHITELIST = ",".join(ALLOWED_FORMATS)
NOT_ON_WHITELIST = "Format not on whitelist"
INPUT_GUARDS = ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST]
# The video codecs we accept (as ffprobe names them), each with the ffmpeg decoders that may read it: every other
# decoder, and the bugs it may have, stays out of reach of an upload.
VIDEO_DECODERS = {
    "h264": ("h264",),
    "hevc": ("hevc",),
    "vp8": ("vp8",),
    "vp9": ("vp9",),
    "av1": ("libdav1d",),
    "mpeg4": ("mpeg4",),
    "mpeg2video": ("mpeg2video",),
    "mpeg1video": ("mpeg1video",),
    "mjpeg": ("mjpeg",),
    "flv1": ("flv",),
    "h263": ("h263",),
    "wmv3": ("wmv3",),
    "vc1": ("vc1",),
}
CODEC_WHITELIST = ",".join(sorted({decoder for decoders in VIDEO_DECODERS.values() for decoder in decoders}))
# Decoders allocate pictures rounded up to their alignment (a 160x120 H.264 picture takes 192x120), so the pixel
# limit handed to them has this much room over the one ffprobe's sizes are held to.
DECODER_PIXEL_ROOM = Fraction(5, 4)
# ffmpeg's words when a limit stopped a tool. RLIMIT_AS shows as whatever allocation failed first: the loader
# mapping a library, malloc or mmap (ENOMEM), or a thread's stack (EAGAIN from pthread_create).
PIXEL_LIMIT_SIGN = "exceeds specified max pixel count"
OUT_OF_MEMORY_SIGNS = ("failed to map segment", "Cannot allocate memory", "Resource temporarily unavailable")


class MediaRejected(Exception):
    """The source cannot be processed, and retrying will not change that. `detail` is for the logs only: it may
    quote a tool's output, which names internal paths."""

    def __init__(self, code: FailureCode, detail: str, message: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail[:2000]
        self.message = message  # a fixed sentence for the user, more precise than the code's own


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
    rotation: int = 0  # degrees, from the display matrix: ffmpeg turns the pictures upright while filtering
    color_transfer: str = ""  # as ffprobe names it: smpte2084 (PQ) and arib-std-b67 (HLG) are HDR
    color_range: str = ""

    @property
    def quarter_turned(self) -> bool:
        return abs(self.rotation) % 180 == 90

    @property
    def display_width(self) -> int:
        """The width of the upright picture, as ffmpeg's filters (which rotate it) hand it over."""
        return self.height if self.quarter_turned else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.quarter_turned else self.height


def decode_guards(max_pixels: int) -> list[str]:
    """ffmpeg's decoder options for a source: only the allowed decoders, and none may allocate a picture over the
    pixel limit, whatever size the stream claimed where ffprobe looked (a stream can change size later on)."""
    return ["-max_pixels", decoder_pixel_limit(max_pixels), "-codec_whitelist", CODEC_WHITELIST]


def decoder_pixel_limit(max_pixels: int) -> str:
    return str(math.floor(max_pixels * DECODER_PIXEL_ROOM))


def probe_argv(path: Path, max_pixels: int) -> list[str]:
    """ffprobe opens a decoder for every stream, audio included, and fails when one is not on a codec whitelist:
    so it gets the pixel limit only, and the video codec is checked against VIDEO_DECODERS in `parse_probe`."""
    return [
        "ffprobe", "-v", "error", *INPUT_GUARDS, "-max_pixels", decoder_pixel_limit(max_pixels),
        "-show_format", "-show_streams", "-of", "json", str(path),
    ]  # fmt: skip


def packets_argv(path: Path, max_pixels: int) -> list[str]:
    """Demux only (no decoding): every video stream's packets with their timestamps and flags, to see where the
    keyframes are. It needs no stream index, so it runs beside the probe that finds the stream."""
    return [
        "ffprobe", "-v", "error", *INPUT_GUARDS, "-max_pixels", decoder_pixel_limit(max_pixels),
        "-select_streams", "v",
        "-show_entries", "packet=stream_index,pts,dts,flags", "-of", "csv=p=0", str(path),
    ]  # fmt: skip


def rejection_for_limit(completed: Completed) -> MediaRejected | None:
    """The limit a failed tool ran into, if its end says so. The CPU limit is a SIGKILL (soft = hard); the runner
    kills on the wall-clock timeout too, but then the job has already ended as a timeout."""
    stderr = completed.stderr_tail
    if completed.returncode == -signal.SIGXFSZ:
        return MediaRejected(FailureCode.TOO_LARGE, "a tool wrote a file over the file size limit")
    if completed.returncode == -signal.SIGKILL:
        return MediaRejected(FailureCode.TIMEOUT, "a tool was killed by the system: its CPU time limit, most likely")
    if PIXEL_LIMIT_SIGN in stderr:
        return MediaRejected(FailureCode.TOO_LARGE, f"a picture is over the pixel limit: {_last_line(stderr)}")
    if any(sign in stderr for sign in OUT_OF_MEMORY_SIGNS):
        return MediaRejected(FailureCode.TOO_LARGE, f"a tool ran out of its memory limit: {_last_line(stderr)}")
    return None


def rejection_for_failed_probe(completed: Completed) -> MediaRejected:
    limit = rejection_for_limit(completed)
    if limit is not None:
        return limit
    if NOT_ON_WHITELIST in completed.stderr_tail:
        return MediaRejected(FailureCode.UNSUPPORTED_FORMAT, "the container is not on the format whitelist")
    return MediaRejected(FailureCode.INVALID_MEDIA, f"ffprobe failed: {_last_line(completed.stderr_tail)}")


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
    codec = str(video.get("codec_name", "unknown"))
    if codec not in VIDEO_DECODERS:
        raise MediaRejected(FailureCode.UNSUPPORTED_FORMAT, f"Video codec {codec!r} is not accepted.")
    duration = _duration(video, fmt)
    if duration is None or duration <= 0:
        raise MediaRejected(FailureCode.INVALID_MEDIA, "The video's duration is unknown.")
    return MediaInfo(
        format_name=format_name,
        duration=duration,
        start_time=_fraction(fmt.get("start_time")) or Fraction(0),
        stream_index=int(video["index"]),
        codec=codec,
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        frame_rate=_rate(video),
        time_base=_fraction(video.get("time_base")) or Fraction(1, 90000),
        stream_count=int(fmt.get("nb_streams") or len(streams)),
        rotation=_rotation(video),
        color_transfer=str(video.get("color_transfer") or ""),
        color_range=str(video.get("color_range") or ""),
    )


def expected_frames(info: MediaInfo, interval: Fraction) -> int:
    """One frame at t = 0, interval, 2·interval, … < duration."""
    return max(1, math.ceil(info.duration / interval))


def check_limits(info: MediaInfo, limits: Limits, frames: int) -> None:
    """The reason the job must not run, if there is one. `frames` is how many the options will produce
    (selection.planned_frames)."""
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
    if frames > limits.max_frames:
        raise MediaRejected(FailureCode.TOO_LARGE, f"{frames} frames with these options is over the limit.")


def _is_video(stream: dict[str, Any]) -> bool:
    attached = (stream.get("disposition") or {}).get("attached_pic") == 1  # cover art, not a video
    return stream.get("codec_type") == "video" and not attached


def _rotation(video: dict[str, Any]) -> int:
    for side_data in video.get("side_data_list") or []:
        if "rotation" in side_data:
            return int(float(side_data["rotation"]))
    tag = (video.get("tags") or {}).get("rotate")  # older muxers' way
    try:
        return int(tag) if tag is not None else 0
    except ValueError:
        return 0


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
