"""What a video's extraction takes: the processing options an upload carries, with their bounds."""

from __future__ import annotations

from pydantic import Field, model_validator

from contracts.base import Payload
from contracts.values import (
    EXTENSIBLE_ENUM,
    MAX_DIMENSION,
    MAX_FRAME_COUNT,
    MAX_OFFSET_SECONDS,
    MIN_DIMENSION,
    ExtractionMode,
    ImageFormat,
)


class ProcessingOptions(Payload):
    """What to extract. Every field added in 1.6.0 has a default that keeps the 1.0 behaviour (one PNG per second of
    the whole video), so an event without them means what it always meant."""

    interval_seconds: float = Field(default=1.0, ge=0.1, le=3600)
    image_format: ImageFormat = Field(
        default=ImageFormat.PNG,
        description="An extensible enum: `webp` was added in 1.6.0.",
        json_schema_extra={EXTENSIBLE_ENUM: True},
    )
    mode: ExtractionMode = Field(
        default=ExtractionMode.INTERVAL,
        description="Which frames are taken (1.6.0). An extensible enum.",
        json_schema_extra={EXTENSIBLE_ENUM: True},
    )
    count: int | None = Field(
        default=None,
        ge=1,
        le=MAX_FRAME_COUNT,
        description="Interval mode only: this many frames evenly spread over the range, the first at its start, "
        "instead of one every `interval_seconds` (1.6.0).",
    )
    start_seconds: float = Field(default=0.0, ge=0, le=MAX_OFFSET_SECONDS, description="Start of the range (1.6.0).")
    end_seconds: float | None = Field(
        default=None,
        gt=0,
        le=MAX_OFFSET_SECONDS,
        description="End of the range, exclusive; the video's end when absent or beyond it (1.6.0).",
    )
    width: int | None = Field(
        default=None,
        ge=MIN_DIMENSION,
        le=MAX_DIMENSION,
        description="Fit frames inside this width, aspect kept, never enlarged (1.6.0).",
    )
    height: int | None = Field(
        default=None,
        ge=MIN_DIMENSION,
        le=MAX_DIMENSION,
        description="Fit frames inside this height, aspect kept, never enlarged (1.6.0).",
    )
    quality: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="JPEG or WebP quality, 1 (smallest) to 100 (best); PNG is lossless and takes none (1.6.0).",
    )
    scene_threshold: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="Scenes mode: how different a frame must be from the one before to start a scene (1.6.0).",
    )
    max_frames: int | None = Field(
        default=None,
        ge=1,
        le=MAX_FRAME_COUNT,
        description="Keyframes and scenes modes: stop after this many frames (1.6.0).",
    )
    skip_black_start: bool = Field(
        default=False, description="Begin the range after the black frames a video opens with (1.6.0)."
    )
    storyboard: bool = Field(
        default=False,
        description="Also put a storyboard in the ZIP: one sprite sheet of small frames with a WebVTT and a JSON "
        "index, for seek-bar previews (1.6.0).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProcessingOptions:
        if self.count is not None and self.mode is not ExtractionMode.INTERVAL:
            raise ValueError("count applies to the interval mode only")
        if self.max_frames is not None and self.mode is ExtractionMode.INTERVAL:
            raise ValueError("max_frames applies to the keyframes and scenes modes; use count in the interval mode")
        if self.end_seconds is not None and self.end_seconds <= self.start_seconds:
            raise ValueError("end_seconds must be after start_seconds")
        if self.quality is not None and self.image_format is ImageFormat.PNG:
            raise ValueError("quality applies to jpg and webp; png is lossless")
        return self
