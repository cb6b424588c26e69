"""From a job's options to ffmpeg's arguments, for one time range [start, end) of the source: which frames are
taken (per mode), how they become pictures (upright, tone-mapped to SDR, fitted, encoded) and when each was on
screen. Pure functions of the options, the probed MediaInfo and the range, so that several ffmpeg processes can
each be given a part of the same video.

Times are seconds from the video's start as ffmpeg counts it (the file's start time subtracted). A range that
does not begin at 0 is reached by a keyframe seek (`-ss` with `-noaccurate_seek`): ffmpeg then counts from the
range's start, and the frames decoded before it (from the keyframe on) are there only to be looked at, never
taken. docs/decisions/0022-extraction-options.md explains the choices."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from contracts import ExtractionMode, FailureCode, ImageFormat, ProcessingOptions
from processor_svc.failures import RANGE_AFTER_END
from processor_svc.media import MediaInfo, MediaRejected

HDR_TRANSFERS = ("smpte2084", "arib-std-b67")  # PQ and HLG, as ffprobe names them
# Linear light is scaled so that this many cd/m² is SDR's white; brighter parts are compressed by the tone curve.
NOMINAL_PEAK_NITS = 100
TONE_CURVE = "mobius"  # linear below its knee, so SDR-range content keeps its contrast; only highlights compressed
DEFAULT_WEBP_QUALITY = 90
BEST_JPEG_QSCALE = 2  # ffmpeg's -q:v for mjpeg: 2 (best) to 31 (smallest)
WORST_JPEG_QSCALE = 31
# How each kept frame's time is recorded in keyframes and scenes modes: the filter prints every frame it passes,
# with its pts in microseconds (settb=AVTB), to this file in the job directory.
TIMESTAMPS_FILE = "timestamps.txt"
FRAME_MARK = "framepipe.frame"
ENCODERS = {ImageFormat.PNG: "png", ImageFormat.JPG: "mjpeg", ImageFormat.WEBP: "libwebp"}
# PNG is lossless whatever its settings: each row predicted from the one above and deflated fast encodes a 1080p
# frame in about half the time of ffmpeg's defaults (no prediction, zlib level 6), into a file no larger
# (docs/decisions/0027-png-encoder-settings.md).
PNG_ENCODING = ["-pred", "up", "-compression_level", "1"]


@dataclass(frozen=True)
class TimeRange:
    start: Fraction
    end: Fraction  # exclusive

    @property
    def length(self) -> Fraction:
        return self.end - self.start


@dataclass(frozen=True)
class Plan:
    """What one ffmpeg run over `span` takes: in interval mode exactly `frames` frames, `step` apart from the
    range's start; in the other modes at most `frames` (a bound: the video decides how many)."""

    mode: ExtractionMode
    span: TimeRange
    frames: int
    step: Fraction | None = None

    def sample_time(self, number: int) -> Fraction:
        """When the `number`-th frame (from 0) of an interval plan is taken."""
        assert self.step is not None
        return self.span.start + number * self.step

    def sample_times(self) -> list[Fraction]:
        return [self.sample_time(k) for k in range(self.frames)] if self.step is not None else []


def requested_range(
    options: ProcessingOptions, info: MediaInfo, opening_black_end: Fraction | None = None
) -> TimeRange:
    """The part of the video the options ask for. After an opening black (skip_black_start), the range begins
    where the black ends, unless that would leave nothing of it."""
    start = _to_microseconds(Fraction(str(options.start_seconds)))
    end = info.duration if options.end_seconds is None else min(Fraction(str(options.end_seconds)), info.duration)
    if start >= end:
        detail = f"the range starts at {float(start):.3f} s, the video ends at {float(info.duration):.3f} s"
        raise MediaRejected(FailureCode.INVALID_MEDIA, detail, message=RANGE_AFTER_END)
    if opening_black_end is not None and start < opening_black_end < end:
        start = opening_black_end
    return TimeRange(start, end)


def plan(options: ProcessingOptions, info: MediaInfo, span: TimeRange, max_frames: int) -> Plan:
    """The frames the options take from `span`. `max_frames` is the service's limit: it bounds the keyframes and
    scenes modes when the options set no bound of their own."""
    if options.mode is ExtractionMode.INTERVAL:
        if options.count is not None:
            return Plan(options.mode, span, options.count, span.length / options.count)
        step = Fraction(str(options.interval_seconds))
        return Plan(options.mode, span, max(1, math.ceil(span.length / step)), step)
    return Plan(options.mode, span, options.max_frames or max_frames)


def planned_frames(selection: Plan, info: MediaInfo) -> int:
    """How many frames the plan can produce, for the limits: exact in interval mode; in the other modes its bound,
    or fewer when the range holds fewer frames than that (at the stream's frame rate, one spare)."""
    if selection.mode is ExtractionMode.INTERVAL or info.frame_rate <= 0:
        return selection.frames
    in_range = math.ceil(selection.span.length * Fraction(info.frame_rate).limit_denominator(1001)) + 1
    return min(selection.frames, in_range)


def input_args(selection: Plan, keyframes_only: bool) -> list[str]:
    """Options of the input (before `-i`): decode keyframes only (keyframes mode, or when it is exact), and seek
    to the keyframe before the range's start."""
    args = []
    if keyframes_only or selection.mode is ExtractionMode.KEYFRAMES:
        args += ["-skip_frame", "nokey"]
    if selection.span.start > 0:
        args += ["-ss", seconds_arg(selection.span.start), "-noaccurate_seek"]
    return args


def filter_chain(
    options: ProcessingOptions, info: MediaInfo, selection: Plan, first_sample: Fraction = Fraction(0)
) -> str:
    """The filters from the decoded (already upright: ffmpeg autorotates before them) source to the pictures.
    `first_sample`: where an interval selection's fps filter starts (a segment's first sample; extraction.py)."""
    filters = [_selecting(options, selection, first_sample)]
    if info.color_transfer in HDR_TRANSFERS:
        filters += tone_mapping(info)
    size = fitted_size(options, info)
    if size is not None:
        filters.append(f"scale={size[0]}:{size[1]}")
    if selection.mode is not ExtractionMode.INTERVAL:
        filters += [
            "settb=AVTB",
            f"metadata=mode=add:key={FRAME_MARK}:value=1",
            f"metadata=mode=print:key={FRAME_MARK}:file={TIMESTAMPS_FILE}",
        ]
    return ",".join(filters)


def _selecting(options: ProcessingOptions, selection: Plan, first_sample: Fraction) -> str:
    if selection.step is not None:
        # The frame on screen at start + k·step: see extraction.py. Counted from the range's start (the seek).
        rate = 1 / selection.step
        start = seconds_arg(first_sample) if first_sample else "0"
        return f"fps=fps={rate.numerator}/{rate.denominator}:round=up:start_time={start}"
    in_range = f"gte(t,0)*lt(t,{seconds_arg(selection.span.length)})"
    if selection.mode is ExtractionMode.KEYFRAMES:
        return f"select='{in_range}'"
    # The range's first frame (nothing selected yet), then each frame that differs enough from the one before.
    return f"select='{in_range}*(isnan(prev_selected_t)+gt(scene,{options.scene_threshold}))'"


def tone_mapping(info: MediaInfo) -> list[str]:
    """HDR (PQ or HLG, BT.2020) to SDR BT.709: to linear light, primaries converted, highlights compressed, back
    to BT.709's transfer. Without it, PQ or HLG code values shown as SDR look grey and washed out."""
    source = f"tin={info.color_transfer}:min=bt2020nc:pin=bt2020:rin={'pc' if info.color_range == 'pc' else 'tv'}"
    return [
        f"zscale={source}:t=linear:npl={NOMINAL_PEAK_NITS}",
        "format=gbrpf32le",
        "zscale=p=bt709",
        f"tonemap=tonemap={TONE_CURVE}:desat=0",
        "zscale=t=bt709:m=bt709:r=tv",
        "format=yuv420p",
    ]


def fitted_size(options: ProcessingOptions, info: MediaInfo) -> tuple[int, int] | None:
    """The picture's size inside the width and height (either may be absent), aspect kept, never enlarged; None when it
    keeps its own size. PNG, JPEG and WebP all take odd sizes, so none is rounded to even."""
    width, height = info.display_width, info.display_height
    scales = [Fraction(1)]
    if options.width is not None:
        scales.append(Fraction(options.width, width))
    if options.height is not None:
        scales.append(Fraction(options.height, height))
    scale = min(scales)
    if scale >= 1:
        return None
    return max(1, round(width * scale)), max(1, round(height * scale))


def picture_size(options: ProcessingOptions, info: MediaInfo) -> tuple[int, int]:
    return fitted_size(options, info) or (info.display_width, info.display_height)


def encoder_args(options: ProcessingOptions) -> list[str]:
    args = ["-c:v", ENCODERS[options.image_format]]
    if options.image_format is ImageFormat.JPG:
        args += ["-q:v", str(jpeg_qscale(options.quality))]
    elif options.image_format is ImageFormat.WEBP:
        args += ["-lossless", "0", "-quality", str(options.quality or DEFAULT_WEBP_QUALITY)]
    else:
        args += PNG_ENCODING
    return args


def jpeg_qscale(quality: int | None) -> int:
    """Quality 1..100 (100 best) onto mjpeg's -q:v 31..2, linearly; no quality keeps the best, as before."""
    if quality is None:
        return BEST_JPEG_QSCALE
    span = WORST_JPEG_QSCALE - BEST_JPEG_QSCALE
    return round(WORST_JPEG_QSCALE - (quality - 1) * span / 99)


def output_args(selection: Plan) -> list[str]:
    """Interval mode's fps filter makes the timing; the other modes keep each frame's own (no duplicates)."""
    args = ["-frames:v", str(selection.frames)]
    if selection.mode is not ExtractionMode.INTERVAL:
        args += ["-fps_mode", "passthrough"]
    return args


@dataclass(frozen=True)
class PrintedFrame:
    """One frame as the metadata filter printed it (`mode=print`): its number, its pts (microseconds, after
    settb=AVTB) and the metadata lines that followed."""

    number: int
    pts: int | None
    metadata: dict[str, str]


def printed_frames(lines: Iterable[str]) -> list[PrintedFrame]:
    frames: list[PrintedFrame] = []
    for line in lines:
        if line.startswith("frame:"):
            fields = dict(field.split(":", 1) for field in line.split() if ":" in field)
            pts = fields.get("pts", "")
            number = fields.get("frame", "")
            frames.append(
                PrintedFrame(
                    int(number) if number.isdigit() else -1, int(pts) if pts.lstrip("-").isdigit() else None, {}
                )
            )
        elif frames and "=" in line:
            key, _, value = line.partition("=")
            frames[-1].metadata[key.strip()] = value.strip()
    return frames


def frame_times(selection: Plan, produced: int, printed: Iterable[str]) -> list[Fraction]:
    """Each produced frame's time from the video's start: computed in interval mode, read from the lines the
    metadata filter printed (TIMESTAMPS_FILE) in the others, the pts there being microseconds from the range's
    start."""
    if selection.step is not None:
        return [selection.sample_time(k) for k in range(produced)]
    times = [selection.span.start + Fraction(f.pts, 1_000_000) for f in printed_frames(printed) if f.pts is not None]
    if len(times) < produced:
        raise MediaRejected(FailureCode.INVALID_MEDIA, f"{produced} frames but {len(times)} timestamps")
    return times[:produced]


def _to_microseconds(value: Fraction) -> Fraction:
    """ffmpeg takes times in microseconds: a range starts on one, so the seek lands exactly where we count from."""
    return Fraction(math.floor(value * 1_000_000), 1_000_000)


def seconds_arg(value: Fraction) -> str:
    """Seconds as ffmpeg takes them: microseconds at most, rounded down."""
    micro = math.floor(value * 1_000_000)
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"
