"""Whether a video's extraction is split across workers, into which segments, and the plan they all read.

A long interval extraction is split at keyframes into segments (segments.py: each gives exactly the frames the
single pass gives for its samples), each a job of its own for whichever worker takes it: `video.segment.
requested.v1`. The plan, stored once by the worker that split the job (servicekit/objects.py), is what every
segment job and the gathering read: the probe, the selection and the segments, so no segment worker probes or
decides again, and all of them work from one description of the source.

Fractions are written as "numerator/denominator": the plan must give back the very times it was made with."""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from contracts import MAX_SEGMENTS, ExtractionMode, ProcessingOptions
from processor_svc.media import MediaInfo
from processor_svc.segments import Packet, Segment, plan_segments
from processor_svc.selection import Plan, TimeRange

# Segments may be this much shorter or longer than an even share, to start close after a keyframe.
SHARE_SLACK = Fraction(1, 4)


@dataclass(frozen=True)
class SplitSettings:
    min_seconds: float  # a selection at least this long is split across workers; 0: never
    segment_seconds: float  # about this much video per segment, at least


NEVER_SPLIT = SplitSettings(min_seconds=0, segment_seconds=300)


def worker_segments(
    packets: list[Packet] | None,
    info: MediaInfo,
    selection: Plan,
    options: ProcessingOptions,
    settings: SplitSettings,
) -> list[Segment]:
    """The segments for several workers, or none when the job stays one worker's: too short, not an interval
    selection from the video's start (the segments' exactness rests on that: segments.py), a storyboard (one
    stream of thumbnails), or no keyframes where splits are needed."""
    step, span = selection.step, selection.span
    if step is None or span.start != 0 or options.storyboard or settings.min_seconds <= 0:
        return []
    if span.length < Fraction(settings.min_seconds):
        return []
    # Segments may come out as short as (1 - SHARE_SLACK) of a share: asking for fewer keeps them within the
    # contract's bound.
    count = min(
        math.floor(MAX_SEGMENTS * (1 - SHARE_SLACK)), math.floor(span.length / Fraction(settings.segment_seconds))
    )
    if count < 2:
        return []
    share = math.ceil(selection.frames / count)
    segments = plan_segments(
        packets, info, step, selection.frames,
        processes=count,
        max_samples=math.ceil(share * (1 + SHARE_SLACK)),
        min_seconds=Fraction(settings.segment_seconds) * (1 - SHARE_SLACK),
    )  # fmt: skip
    return segments if 2 <= len(segments) <= MAX_SEGMENTS else []


@dataclass(frozen=True)
class SplitPlan:
    run_id: uuid.UUID  # the upload event's id, or a new one when an operator has the video processed again
    upload_event: uuid.UUID  # the video's outcome is the one event this upload event leads to
    video_id: uuid.UUID
    owner_id: uuid.UUID
    filename: str
    options: ProcessingOptions
    source_sha256: str
    info: MediaInfo
    selection: Plan
    keyframes_only: bool
    command: list[str]  # the single pass the segments stand for, as the manifest shows it
    segments: list[Segment]
    started_at: float  # when the job began (s since the epoch): the outcome's processing time counts from it

    def to_json(self) -> bytes:
        document = {
            **{name: _plain(getattr(self, name)) for name in _FIELDS},
            "options": self.options.model_dump(mode="json"),
            "info": {f.name: _plain(getattr(self.info, f.name)) for f in dataclasses.fields(MediaInfo)},
            "selection": {
                "mode": self.selection.mode.value,
                "start": _plain(self.selection.span.start),
                "end": _plain(self.selection.span.end),
                "frames": self.selection.frames,
                "step": _plain(self.selection.step),
            },
            "segments": [[s.first, s.count, _plain(s.start), _plain(s.seek)] for s in self.segments],
        }
        return json.dumps(document, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SplitPlan:
        document = json.loads(data)
        info = document["info"]
        selection = document["selection"]
        return cls(
            **{name: _TYPES[name](document[name]) for name in _FIELDS},
            options=ProcessingOptions.model_validate(document["options"]),
            info=_media_info(info),
            selection=Plan(
                mode=ExtractionMode(selection["mode"]),
                span=TimeRange(Fraction(selection["start"]), Fraction(selection["end"])),
                frames=int(selection["frames"]),
                step=_fraction(selection["step"]),
            ),
            segments=[Segment(first, count, Fraction(start), _fraction(seek)) for first, count, start, seek in
                      document["segments"]],
        )  # fmt: skip


_TYPES: dict[str, Any] = {
    "run_id": uuid.UUID,
    "upload_event": uuid.UUID,
    "video_id": uuid.UUID,
    "owner_id": uuid.UUID,
    "filename": str,
    "source_sha256": str,
    "keyframes_only": bool,
    "command": list,
    "started_at": float,
}
_FIELDS = tuple(_TYPES)
_INFO_FRACTIONS = frozenset(f.name for f in dataclasses.fields(MediaInfo) if f.type in ("Fraction", Fraction))


def _media_info(fields: dict[str, Any]) -> MediaInfo:
    values: dict[str, Any] = {name: _fraction(v) if name in _INFO_FRACTIONS else v for name, v in fields.items()}
    return MediaInfo(**values)


def _plain(value: object) -> object:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _fraction(value: object) -> Fraction | None:
    return None if value is None else Fraction(str(value))
