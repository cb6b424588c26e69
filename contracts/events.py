"""The v1 event payloads (`data` of the envelope). One frozen model per event type, named in the past tense
with its version. Consumers tolerate unknown fields (additive evolution): models ignore extras on input,
while producers are held to the declared fields by type checking (pydantic's mypy plugin) and validation.

This module holds the videos' events and names every payload of the contract: accounts' events live in
contracts.accounts, notices' in contracts.notices, the options in contracts.options, the vocabulary in
contracts.values."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from contracts.accounts import RevocationReason, TokenRevokedV1, UserDeletedV1, UserRegisteredV1
from contracts.base import EventData, ObjectRef, Payload, ProcessingError, ResultObject
from contracts.notices import NotificationSentV1, WebhookDeliveryFailedV1, WebhookEndpointDisabledV1
from contracts.options import ProcessingOptions
from contracts.values import (
    EXTENSIBLE_ENUM,
    MAX_DIMENSION,
    MAX_FRAME_COUNT,
    MAX_OFFSET_SECONDS,
    MAX_PREVIEWS,
    MAX_SEGMENTS,
    MIN_DIMENSION,
    ExtractionMode,
    FailureCode,
    ImageFormat,
    NonEmptyStr,
    NotificationKind,
    WebhookUrl,
)

__all__ = [
    "EXTENSIBLE_ENUM",
    "MAX_DIMENSION",
    "MAX_FRAME_COUNT",
    "MAX_OFFSET_SECONDS",
    "MAX_PREVIEWS",
    "MAX_SEGMENTS",
    "MIN_DIMENSION",
    "EventData",
    "ExtractionMode",
    "FailureCode",
    "ImageFormat",
    "NonEmptyStr",
    "NotificationKind",
    "NotificationSentV1",
    "ObjectRef",
    "Payload",
    "ProcessingError",
    "ProcessingOptions",
    "ResultObject",
    "RevocationReason",
    "TokenRevokedV1",
    "UserDeletedV1",
    "UserRegisteredV1",
    "VideoDeletedV1",
    "VideoFailedV1",
    "VideoProcessedV1",
    "VideoProcessingProgressV1",
    "VideoProcessingStartedV1",
    "VideoSegmentRequestedV1",
    "VideoUploadedV1",
    "WebhookDeliveryFailedV1",
    "WebhookEndpointDisabledV1",
    "WebhookUrl",
]


class _VideoEvent(EventData):
    video_id: UUID
    owner_id: UUID

    def subject(self) -> str:
        return str(self.video_id)


class VideoUploadedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.uploaded.v1"
    summary: ClassVar[str] = "A video was stored and accepted for processing."
    producers: ClassVar[tuple[str, ...]] = ("video_svc",)

    filename: NonEmptyStr
    content_type: NonEmptyStr
    size_bytes: int = Field(gt=0)
    source: ObjectRef = Field(
        description="The stored upload: always `sources/{owner_id}/{video_id}` in the service's bucket. A consumer "
        "parks an event naming any other object (documented in 1.4.1)."
    )
    options: ProcessingOptions = Field(
        default=ProcessingOptions(),
        # The documented default stays what it was in 1.0: every option added since has a default of its own.
        json_schema_extra={"default": {"interval_seconds": 1.0, "image_format": "png"}},
    )
    uploaded_at: AwareDatetime


class VideoProcessingStartedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.processing.started.v1"
    summary: ClassVar[str] = "A worker started (or restarted) extracting frames from a video."
    producers: ClassVar[tuple[str, ...]] = ("processor_svc",)

    attempt: int = Field(ge=1)
    started_at: AwareDatetime


class VideoProcessingProgressV1(_VideoEvent):
    event_type: ClassVar[str] = "video.processing.progress.v1"
    summary: ClassVar[str] = "Throttled progress of a running extraction."
    producers: ClassVar[tuple[str, ...]] = ("processor_svc",)

    progress: float = Field(ge=0.0, le=1.0)
    frames_done: int = Field(ge=0)


class VideoProcessedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.processed.v1"
    summary: ClassVar[str] = "The ZIP of frames is stored and ready to download."
    producers: ClassVar[tuple[str, ...]] = ("processor_svc",)

    frame_count: int = Field(ge=0)
    duration_seconds: float = Field(ge=0)
    result: ResultObject = Field(
        description="The ZIP: always `results/{video_id}.zip` in the service's bucket; previews are always "
        "`results/previews/{video_id}/{n}.jpg`. A consumer parks an event naming any other object "
        "(documented in 1.4.1)."
    )
    processing_seconds: float = Field(ge=0)
    finished_at: AwareDatetime
    filename: NonEmptyStr | None = Field(default=None, description="The uploaded file's name (added in 1.1.0).")
    previews: tuple[ObjectRef, ...] = Field(
        default=(),
        max_length=MAX_PREVIEWS,
        description="Small JPEG images of the first frames, in frame order, for a page to show (added in 1.2.0).",
    )


class VideoFailedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.failed.v1"
    summary: ClassVar[str] = "Processing ended without a result; `error.code` says why."
    producers: ClassVar[tuple[str, ...]] = ("processor_svc", "video_svc")

    error: ProcessingError
    attempts: int = Field(ge=0)
    failed_at: AwareDatetime
    filename: NonEmptyStr | None = Field(default=None, description="The uploaded file's name (added in 1.1.0).")


class VideoSegmentRequestedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.segment.requested.v1"
    summary: ClassVar[str] = (
        "One segment of a long video is to be extracted by whichever processor worker takes it (added in 1.7.0). "
        "Internal to processor_svc: the plan it names is an object of the processor's own, and the video's outcome "
        "is still one `video.processed.v1` or `video.failed.v1`."
    )
    producers: ClassVar[tuple[str, ...]] = ("processor_svc",)

    run_id: UUID = Field(
        description="The run of the extraction this segment belongs to: one per upload event, a new one when an "
        "operator has a video processed again. A request of an earlier run is dropped."
    )
    index: int = Field(ge=0, lt=MAX_SEGMENTS, description="Which segment, from 0, in the order of the frames.")
    segments: int = Field(ge=2, le=MAX_SEGMENTS, description="How many segments the video is split into.")

    @model_validator(mode="after")
    def _index_within(self) -> VideoSegmentRequestedV1:
        if self.index >= self.segments:
            raise ValueError(f"segment {self.index} of {self.segments} does not exist")
        return self


class VideoDeletedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.deleted.v1"
    summary: ClassVar[str] = "The owner deleted a video; its source and result are removed."
    producers: ClassVar[tuple[str, ...]] = ("video_svc",)

    deleted_at: AwareDatetime
