"""Where to split an extraction into segments that ffmpeg processes run side by side, each seeking to a keyframe
of its own, so that together they give exactly the frames of a single pass. Pure decisions on ffprobe's packet
list; running the segments is segmented.py's job.

A segment makes the samples first … first+count-1. Its ffmpeg seeks (`-ss` before `-i`, not accurate: no frame is
trimmed) to the keyframe that starts the group of pictures holding the frame on screen at its first sample, keeps
the single pass's timestamps (`-copyts -start_at_zero`: the same shift by the file's start) and starts the fps
filter at its first sample's time. The fps filter picks, for slot n, the last frame whose timestamp is ≤ n·interval;
from a keyframe at or before that frame, the frames it sees from then on are the single pass's, so are its picks.

That holds when the filter's arithmetic is exact, which the plan makes sure of: every segment starts at a whole
second, in a stream whose time base is 1/N (the fps filter rescales its start, a double of seconds, into
microseconds and into that time base: whole seconds come through unrounded), and only in
containers whose demuxer seeks through an index to a keyframe at or before the asked time (a seek that lands later
would hand the filter a later frame). Anything else is one segment: the single pass."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from processor_svc.media import MediaInfo

# Demuxers that seek by index to the keyframe at or before the asked timestamp (mov by decoding timestamps,
# matroska by its cues); MPEG-TS, AVI, FLV and ASF seek by byte position or estimates.
SEEKABLE_FORMATS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"})
# A segment must hold at least this much decoding (2 s of 1080p30): below it, starting a process and decoding
# from its keyframe cost more than running beside another one gains.
MIN_SEGMENT_PIXELS = 2 * 30 * 1920 * 1080
# One more ffmpeg costs about as much CPU as decoding this much (about 150 ms: linking its 200 libraries, reading
# the file's index, setting up filters and encoder, against 5 ms a 1080p frame on one core): a split that skips
# more decoding than that pays (with keyframes every 2 s, from one frame every 3 s on).
PROCESS_START_PIXELS = 30 * 1920 * 1080
MICROSECOND = Fraction(1, 1_000_000)


@dataclass(frozen=True)
class Packet:
    pts: int
    dts: int | None
    key: bool


@dataclass(frozen=True)
class Segment:
    first: int  # index of its first sample; its frames are numbered first+1 …
    count: int  # samples it makes
    start: Fraction  # time of its first sample (s, the single pass's time axis)
    seek: Fraction | None  # where its ffmpeg seeks to (-ss, s); None: from the start of the file

    @property
    def end(self) -> int:
        return self.first + self.count


def parse_packets(lines: Iterable[str], stream_index: int) -> list[Packet] | None:
    """ffprobe's 'stream_index,pts,dts,flags' lines → the packets of the video stream, or None when one has no
    timestamp (then nothing can be proven about which frame is where)."""
    packets = []
    for line in lines:
        fields = line.strip().split(",")
        if len(fields) != 4 or fields[0] != str(stream_index):
            continue
        _, pts, dts, flags = fields
        if not _is_int(pts):
            return None
        packets.append(Packet(int(pts), int(dts) if _is_int(dts) else None, flags.startswith("K")))
    packets.sort(key=lambda packet: packet.pts)
    return packets


def on_screen(
    packets: list[Packet], info: MediaInfo, interval: Fraction, samples: int, start: Fraction = Fraction(0)
) -> list[int]:
    """For each sample k, the index (in `packets`, sorted by pts) of the frame on screen at start + k·interval:
    the last one whose timestamp, shifted as ffmpeg shifts it by the file's start, is ≤ that time."""
    tb = info.time_base
    offset = round(info.start_time / tb)  # ffmpeg's shift by the file's start, rounded into the time base
    shown, current = [], 0
    for k in range(samples):
        sample = start + k * interval
        while current + 1 < len(packets) and (packets[current + 1].pts - offset) * tb <= sample:
            current += 1
        shown.append(current)
    return shown


def whole(samples: int) -> Segment:
    """The single pass: every sample, from the start of the file."""
    return Segment(0, samples, Fraction(0), None)


def keyframes_cover_samples(
    packets: list[Packet] | None, info: MediaInfo, interval: Fraction, samples: int, start: Fraction = Fraction(0)
) -> bool:
    """True when the frame on screen at every sample time (start + k·interval) is a keyframe, so decoding
    keyframes only yields the very same frames."""
    if not packets:
        return False
    return all(packets[i].key for i in on_screen(packets, info, interval, samples, start))


def min_segment_seconds(info: MediaInfo) -> Fraction:
    """The least video worth a process of its own: about MIN_SEGMENT_PIXELS of decoding."""
    rate = Fraction(info.frame_rate or 1).limit_denominator(1001) * max(1, info.width * info.height)
    return Fraction(MIN_SEGMENT_PIXELS) / rate


def plan_segments(
    packets: list[Packet] | None,
    info: MediaInfo,
    interval: Fraction,
    samples: int,
    *,
    processes: int,
    max_samples: int,
    min_seconds: Fraction,
    skip_unseen: bool = False,
) -> list[Segment]:
    """Segments of at most `max_samples` samples (their frames wait on disk while earlier ones are zipped), of
    at least `min_seconds` of video, enough to keep `processes` busy, each split where the frame on screen is
    close after a keyframe; with `skip_unseen`, split again wherever that skips decoding video no sample needs
    (`_skipping`). One segment (the single pass) when splitting cannot be exact or bounded."""
    if processes < 2 or not packets or not _seekable(info) or info.time_base.numerator != 1:
        return [whole(samples)]
    step = interval.denominator  # sample indices whose time is a whole second
    size = min(math.ceil(samples / processes), max_samples)
    size = _multiple(max(size, math.ceil(min_seconds / interval)), step)
    if size >= samples or size > max_samples:
        return [whole(samples)]
    shown = on_screen(packets, info, interval, samples)
    boundaries = {*_boundaries(packets, info, interval, samples, shown, size, max_samples)}
    boundaries |= set(_skipping(packets, info, samples, step, shown) if skip_unseen else ())
    segments, first = [], 0
    for boundary in [*sorted(boundaries), samples]:
        if boundary - first > max_samples:
            return [whole(samples)]  # no keyframe where one was needed: the single pass, with its brake
        segments.append(_segment(packets, info, interval, first, boundary, shown))
        first = boundary
    return segments


def _boundaries(
    packets: list[Packet],
    info: MediaInfo,
    interval: Fraction,
    samples: int,
    shown: list[int],
    size: int,
    longest: int,
) -> Iterable[int]:
    """Sample indices to split at: from 3/4 of `size` to `longest` samples after the last split (whole seconds),
    the one whose frame on screen is closest after a keyframe (then the one closest to `size`), so that a segment
    decodes the least before its first sample. No split where the keyframe is over a segment's length back."""
    step = interval.denominator
    shortest = _multiple(max(1, size * 3 // 4), step)
    previous = 0
    while previous + size < samples:
        best: tuple[Fraction, int, int] | None = None
        for candidate in range(previous + shortest, min(previous + longest, samples - 1) + 1, step):
            key = _keyframe_before(packets, shown[candidate])
            if key is None:
                continue
            before = candidate * interval - _time(packets[key].pts, info)
            rank = (before, abs(candidate - previous - size), candidate)
            if before <= longest * interval and (best is None or rank < best):
                best = rank
        if best is None:
            return
        previous = best[2]
        yield previous


def _skipping(packets: list[Packet], info: MediaInfo, samples: int, step: int, shown: list[int]) -> Iterable[int]:
    """Samples (at whole seconds) where a segment of its own skips more decoding than a process's start costs:
    the frames after the one that ends the previous sample (the filter sees it go) and before the keyframe this
    sample's frame is decoded from. With keyframes every 2 s and a frame every 5 s, four fifths of the video."""
    frame_pixels = max(1, info.width * info.height)
    for sample in range(step, samples, step):
        key = _keyframe_before(packets, shown[sample])
        if key is not None and (key - shown[sample - 1] - 2) * frame_pixels >= PROCESS_START_PIXELS:
            yield sample


def _segment(
    packets: list[Packet], info: MediaInfo, interval: Fraction, first: int, end: int, shown: list[int]
) -> Segment:
    if first == 0:
        return whole(end)
    key = _keyframe_before(packets, shown[first])
    assert key is not None
    seek = _seek_to(packets, key, info.time_base) - info.start_time
    return Segment(first, end - first, first * interval, seek if seek > 0 else None)


def _seek_to(packets: list[Packet], key: int, time_base: Fraction) -> Fraction:
    """A time (in ffmpeg's microseconds) at which the demuxer lands on the keyframe `key`: it lands on the last
    keyframe at or before the asked time, by presentation time (mov, matroska) or by decoding time. Its
    presentation time rounded up is at or after both of its own, and before the next keyframe's, unless that one
    is decoded sooner; then its decoding time rounded down, which lands on it or on an earlier one (more decoding,
    the same frames)."""
    packet = packets[key]
    later = next((packets[i] for i in range(key + 1, len(packets)) if packets[i].key), None)
    at = Fraction(math.ceil(packet.pts * time_base / MICROSECOND), 1_000_000)
    if later is None or at < (later.pts if later.dts is None else min(later.pts, later.dts)) * time_base:
        return at
    stamp = packet.dts if packet.dts is not None else packet.pts
    return Fraction(math.floor(stamp * time_base / MICROSECOND), 1_000_000)


def _keyframe_before(packets: list[Packet], index: int) -> int | None:
    for i in range(index, -1, -1):
        if packets[i].key:
            return i
    return None


def _time(pts: int, info: MediaInfo) -> Fraction:
    return pts * info.time_base - info.start_time


def _multiple(value: int, step: int) -> int:
    return math.ceil(value / step) * step


def _seekable(info: MediaInfo) -> bool:
    return set(info.format_name.split(",")) <= SEEKABLE_FORMATS


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()
