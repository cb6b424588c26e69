"""The contract's vocabulary: the enums its payloads use and the bounds of their values. Enums marked extensible
may gain values in a minor version (the versioning rules say what a consumer then does)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints


class FailureCode(StrEnum):
    INVALID_MEDIA = "invalid_media"
    UNSUPPORTED_FORMAT = "unsupported_format"
    NO_VIDEO_STREAM = "no_video_stream"
    TOO_LONG = "too_long"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    RETRIES_EXHAUSTED = "retries_exhausted"


class ImageFormat(StrEnum):
    PNG = "png"
    JPG = "jpg"
    WEBP = "webp"  # added in 1.6.0


class ExtractionMode(StrEnum):
    """Which frames are taken (added in 1.6.0)."""

    INTERVAL = "interval"  # the frame on screen every `interval_seconds`, or `count` frames evenly spread
    KEYFRAMES = "keyframes"  # every keyframe: fast, the encoder decided where they are
    SCENES = "scenes"  # the first frame, then one frame per scene change


class NotificationKind(StrEnum):
    PROCESSED = "processed"
    FAILED = "failed"


NonEmptyStr = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
MAX_PREVIEWS = 8
# Bounds of the processing options: the one place the API, its OpenAPI document, the CLI and the web app take them.
MAX_FRAME_COUNT = 100_000
MAX_OFFSET_SECONDS = 86_400
MIN_DIMENSION = 16
MAX_DIMENSION = 7680
# A long video is split into at most this many segments, each extracted by whichever worker takes it (1.7.0).
MAX_SEGMENTS = 64
# Marks an enum that may gain values in a minor version (the versioning rules say what a consumer then does).
EXTENSIBLE_ENUM = "x-extensible-enum"
WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
