"""The v1 event payloads (`data` of the envelope). One frozen model per event type, named in the past tense
with its version. Consumers tolerate unknown fields (additive evolution): models ignore extras on input,
while producers are held to the declared fields by type checking (pydantic's mypy plugin) and validation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator


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
# Marks an enum that may gain values in a minor version (the versioning rules say what a consumer then does).
EXTENSIBLE_ENUM = "x-extensible-enum"
WebhookUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EventData(_Model):
    """Base of every event payload. `event_type` is the versioned CloudEvents `type` and AMQP routing key."""

    event_type: ClassVar[str]
    summary: ClassVar[str]

    def subject(self) -> str:
        """The aggregate the event is about (the envelope's `subject`)."""
        raise NotImplementedError


class ObjectRef(_Model):
    bucket: NonEmptyStr
    key: NonEmptyStr


class ResultObject(ObjectRef):
    size_bytes: int = Field(ge=0)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ProcessingOptions(_Model):
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


class ProcessingError(_Model):
    code: FailureCode
    message: Annotated[str, StringConstraints(max_length=2000)]


class UserRegisteredV1(EventData):
    event_type: ClassVar[str] = "auth.user.registered.v1"
    summary: ClassVar[str] = "A user account was created."

    user_id: UUID
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    registered_at: AwareDatetime

    def subject(self) -> str:
        return str(self.user_id)


class RevocationReason(StrEnum):
    LOGOUT = "logout"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a password
    ACCOUNT_DELETED = "account_deleted"


class TokenRevokedV1(EventData):
    event_type: ClassVar[str] = "auth.token.revoked.v1"
    summary: ClassVar[str] = (
        "Access tokens were revoked before they expire: one token (`jti`), or every token of the user issued "
        "before `not_before`. Every service that verifies tokens refuses them until `expires_at`."
    )

    user_id: UUID
    jti: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The revoked token's `jti` (a sign-out), or null when `not_before` is set."
    )
    not_before: AwareDatetime | None = Field(
        default=None,
        description="Every token of the user whose `iat` is before this instant (whole seconds) is revoked "
        "(a password change, a deleted account).",
    )
    expires_at: AwareDatetime = Field(
        description="When the revoked tokens have all expired by themselves: the revocation can be forgotten then."
    )
    reason: RevocationReason
    revoked_at: AwareDatetime

    @model_validator(mode="after")
    def _names_what_is_revoked(self) -> TokenRevokedV1:
        if self.jti is None and self.not_before is None:
            raise ValueError("a revocation names a token (jti) or a time (not_before)")
        return self

    def subject(self) -> str:
        return str(self.user_id)


class UserDeletedV1(EventData):
    event_type: ClassVar[str] = "auth.user.deleted.v1"
    summary: ClassVar[str] = (
        "A user deleted their account: every service deletes what it holds about the user (videos, objects, "
        "recipient record, webhook endpoints)."
    )

    user_id: UUID
    deleted_at: AwareDatetime

    def subject(self) -> str:
        return str(self.user_id)


class _VideoEvent(EventData):
    video_id: UUID
    owner_id: UUID

    def subject(self) -> str:
        return str(self.video_id)


class VideoUploadedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.uploaded.v1"
    summary: ClassVar[str] = "A video was stored and accepted for processing."

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

    attempt: int = Field(ge=1)
    started_at: AwareDatetime


class VideoProcessingProgressV1(_VideoEvent):
    event_type: ClassVar[str] = "video.processing.progress.v1"
    summary: ClassVar[str] = "Throttled progress of a running extraction."

    progress: float = Field(ge=0.0, le=1.0)
    frames_done: int = Field(ge=0)


class VideoProcessedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.processed.v1"
    summary: ClassVar[str] = "The ZIP of frames is stored and ready to download."

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

    error: ProcessingError
    attempts: int = Field(ge=0)
    failed_at: AwareDatetime
    filename: NonEmptyStr | None = Field(default=None, description="The uploaded file's name (added in 1.1.0).")


class VideoDeletedV1(_VideoEvent):
    event_type: ClassVar[str] = "video.deleted.v1"
    summary: ClassVar[str] = "The owner deleted a video; its source and result are removed."

    deleted_at: AwareDatetime


class NotificationSentV1(EventData):
    event_type: ClassVar[str] = "notification.sent.v1"
    summary: ClassVar[str] = "The owner of a video was notified of its outcome."

    notification_id: UUID
    user_id: UUID
    video_id: UUID
    kind: NotificationKind
    channel: Annotated[str, StringConstraints(pattern=r"^email$")] = "email"
    sent_at: datetime

    def subject(self) -> str:
        return str(self.user_id)


class WebhookDeliveryFailedV1(EventData):
    event_type: ClassVar[str] = "webhook.delivery.failed.v1"
    summary: ClassVar[str] = "A webhook delivery gave up after its last retry: the event never reached the endpoint."

    endpoint_id: UUID
    owner_id: UUID
    delivery_id: UUID
    event_id: UUID = Field(description="The id of the event that was not delivered (its webhook-id).")
    delivered_type: NonEmptyStr = Field(description="The type of the event that was not delivered.")
    attempts: int = Field(ge=1)
    last_error: Annotated[str, StringConstraints(max_length=2000)]
    failed_at: AwareDatetime

    def subject(self) -> str:
        return str(self.endpoint_id)


class WebhookEndpointDisabledV1(EventData):
    event_type: ClassVar[str] = "webhook.endpoint.disabled.v1"
    summary: ClassVar[str] = "A webhook endpoint failed every delivery for too long and was disabled."

    endpoint_id: UUID
    owner_id: UUID
    url: WebhookUrl
    failing_since: AwareDatetime
    disabled_at: AwareDatetime
    reason: Annotated[str, StringConstraints(max_length=2000)]

    def subject(self) -> str:
        return str(self.endpoint_id)
