"""Deterministic, realistic examples of every event type and of its envelope, for the generated docs and tests.

The examples tell one story: a user registers, uploads a video, it is processed (or fails), the user is
notified, then deletes it. Ids and times are fixed, so the generated documents are the same on every run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple, TypeVar
from uuid import UUID

from contracts.envelope import Envelope, new_envelope
from contracts.events import (
    EventData,
    FailureCode,
    ImageFormat,
    NotificationKind,
    NotificationSentV1,
    ObjectRef,
    ProcessingError,
    ProcessingOptions,
    ResultObject,
    RevocationReason,
    TokenRevokedV1,
    UserDeletedV1,
    UserRegisteredV1,
    VideoDeletedV1,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoSegmentRequestedV1,
    VideoUploadedV1,
    WebhookDeliveryFailedV1,
    WebhookEndpointDisabledV1,
)
from contracts.registry import model_for

E = TypeVar("E", bound=EventData)

USER_ID = UUID("3f2b8c1e-6a4d-4e0f-9b7a-1c2d3e4f5a6b")
VIDEO_ID = UUID("8d0e6f52-2b1c-4a7e-8f3d-5e6a7b8c9d0e")
NOTIFICATION_ID = UUID("c4a1e2d3-7b6f-4c5e-9a8d-0f1e2d3c4b5a")
SIGNUP_REQUEST = "2f7c9e4a-1b3d-4c6e-8a0f-2b4d6e8f0a1c"
UPLOAD_REQUEST = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
UPLOAD_EVENT = "1f6b8d4c-2e3a-4b7c-9d0e-8f1a2b3c4d5e"
DELETE_REQUEST = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
ENDPOINT_ID = UUID("6b7c8d9e-0f1a-4b2c-8d3e-4f5a6b7c8d9e")
DELIVERY_ID = UUID("7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f")
FAILED_DELIVERY_EVENT = "4c9e1a7f-5b6d-4e0f-8a3b-1c4d5e6f7a8b"
SIGN_OUT_REQUEST = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"
ACCOUNT_DELETE_REQUEST = "c3d4e5f6-a7b8-4c9d-8e1f-2a3b4c5d6e7f"


def _at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 14, hour, minute, second, tzinfo=UTC)


_SOURCE = ObjectRef(bucket="framepipe", key=f"sources/{USER_ID}/{VIDEO_ID}")
_RESULT = ResultObject(
    bucket="framepipe",
    key=f"results/{VIDEO_ID}.zip",
    size_bytes=18_734_112,
    sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
)

_PAYLOADS: tuple[EventData, ...] = (
    UserRegisteredV1(user_id=USER_ID, email="ana@example.com", name="Ana Lima", registered_at=_at(9, 0)),
    VideoUploadedV1(
        video_id=VIDEO_ID,
        owner_id=USER_ID,
        filename="holiday.mp4",
        content_type="video/mp4",
        size_bytes=52_428_800,
        source=_SOURCE,
        options=ProcessingOptions(interval_seconds=1.0, image_format=ImageFormat.PNG),
        uploaded_at=_at(9, 30),
    ),
    VideoProcessingStartedV1(video_id=VIDEO_ID, owner_id=USER_ID, attempt=1, started_at=_at(9, 30, 2)),
    VideoProcessingProgressV1(video_id=VIDEO_ID, owner_id=USER_ID, progress=0.5, frames_done=90),
    VideoSegmentRequestedV1(video_id=VIDEO_ID, owner_id=USER_ID, run_id=UUID(UPLOAD_EVENT), index=1, segments=4),
    VideoProcessedV1(
        video_id=VIDEO_ID,
        owner_id=USER_ID,
        frame_count=180,
        duration_seconds=180.0,
        result=_RESULT,
        processing_seconds=41.7,
        finished_at=_at(9, 30, 44),
        filename="holiday.mp4",
        previews=tuple(ObjectRef(bucket="framepipe", key=f"results/previews/{VIDEO_ID}/{n}.jpg") for n in range(1, 5)),
    ),
    VideoFailedV1(
        video_id=VIDEO_ID,
        owner_id=USER_ID,
        error=ProcessingError(code=FailureCode.NO_VIDEO_STREAM, message="The file has no video stream."),
        attempts=1,
        failed_at=_at(9, 30, 3),
        filename="holiday.mp4",
    ),
    VideoDeletedV1(video_id=VIDEO_ID, owner_id=USER_ID, deleted_at=_at(18, 5)),
    NotificationSentV1(
        notification_id=NOTIFICATION_ID,
        user_id=USER_ID,
        video_id=VIDEO_ID,
        kind=NotificationKind.PROCESSED,
        channel="email",
        sent_at=_at(9, 30, 46),
    ),
    WebhookDeliveryFailedV1(
        endpoint_id=ENDPOINT_ID,
        owner_id=USER_ID,
        delivery_id=DELIVERY_ID,
        event_id=UUID(FAILED_DELIVERY_EVENT),
        delivered_type="video.processed.v1",
        attempts=11,
        last_error="HTTP 503 from https://hooks.example.com/framepipe",
        failed_at=datetime(2026, 3, 15, 9, 12, tzinfo=UTC),
    ),
    WebhookEndpointDisabledV1(
        endpoint_id=ENDPOINT_ID,
        owner_id=USER_ID,
        url="https://hooks.example.com/framepipe",
        failing_since=_at(9, 30, 45),
        disabled_at=datetime(2026, 3, 19, 9, 31, tzinfo=UTC),
        reason="Every delivery failed for 5 days (last: HTTP 503).",
    ),
    TokenRevokedV1(
        user_id=USER_ID,
        jti="5f0c2a9e8b7d4c6a9e1f3b5d7c9a0e2f",
        expires_at=_at(19, 0),
        reason=RevocationReason.LOGOUT,
        revoked_at=_at(18, 10),
    ),
    UserDeletedV1(user_id=USER_ID, deleted_at=datetime(2026, 3, 20, 8, 0, tzinfo=UTC)),
)
_EXAMPLES: dict[type[EventData], EventData] = {type(payload): payload for payload in _PAYLOADS}


class _Hop(NamedTuple):
    """Envelope attributes of one example event: who sent it, why, and when."""

    event_id: str
    source: str
    correlation_id: str
    causation_id: str | None
    time: datetime


_HOPS: dict[str, _Hop] = {
    "auth.user.registered.v1": _Hop(
        "0e5a7c3b-1d2f-4a6b-8c9d-7e0f1a2b3c4d", "framepipe/auth_svc", SIGNUP_REQUEST, None, _at(9, 0)
    ),
    "video.uploaded.v1": _Hop(UPLOAD_EVENT, "framepipe/video_svc", UPLOAD_REQUEST, None, _at(9, 30)),
    "video.processing.started.v1": _Hop(
        "2a7c9e5d-3f4b-4c8d-8e1f-9a2b3c4d5e6f",
        "framepipe/processor_svc",
        UPLOAD_REQUEST,
        UPLOAD_EVENT,
        _at(9, 30, 2),
    ),
    "video.processing.progress.v1": _Hop(
        "3b8d0f6e-4a5c-4d9e-9f2a-0b3c4d5e6f7a",
        "framepipe/processor_svc",
        UPLOAD_REQUEST,
        UPLOAD_EVENT,
        _at(9, 30, 23),
    ),
    "video.segment.requested.v1": _Hop(
        "2a7c9e1b-3d5f-4a6b-8c0d-1e2f3a4b5c6d",
        "framepipe/processor_svc",
        UPLOAD_REQUEST,
        UPLOAD_EVENT,
        _at(9, 30, 3),
    ),
    "video.processed.v1": _Hop(
        "4c9e1a7f-5b6d-4e0f-8a3b-1c4d5e6f7a8b",
        "framepipe/processor_svc",
        UPLOAD_REQUEST,
        UPLOAD_EVENT,
        _at(9, 30, 44),
    ),
    "video.failed.v1": _Hop(
        "5d0f2b8a-6c7e-4f1a-9b4c-2d5e6f7a8b9c",
        "framepipe/processor_svc",
        UPLOAD_REQUEST,
        UPLOAD_EVENT,
        _at(9, 30, 3),
    ),
    "video.deleted.v1": _Hop(
        "6e1a3c9b-7d8f-4a2b-8c5d-3e6f7a8b9c0d", "framepipe/video_svc", DELETE_REQUEST, None, _at(18, 5)
    ),
    "notification.sent.v1": _Hop(
        "7f2b4d0c-8e9a-4b3c-9d6e-4f7a8b9c0d1e",
        "framepipe/notify_svc",
        UPLOAD_REQUEST,
        "4c9e1a7f-5b6d-4e0f-8a3b-1c4d5e6f7a8b",
        _at(9, 30, 46),
    ),
    "webhook.delivery.failed.v1": _Hop(
        "8d9e0f1a-2b3c-4d4e-8f5a-6b7c8d9e0f1a",
        "framepipe/webhook_svc",
        UPLOAD_REQUEST,
        FAILED_DELIVERY_EVENT,
        datetime(2026, 3, 15, 9, 12, tzinfo=UTC),
    ),
    "webhook.endpoint.disabled.v1": _Hop(
        "9e0f1a2b-3c4d-4e5f-9a6b-7c8d9e0f1a2b",
        "framepipe/webhook_svc",
        UPLOAD_REQUEST,
        None,
        datetime(2026, 3, 19, 9, 31, tzinfo=UTC),
    ),
    "auth.token.revoked.v1": _Hop(
        "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d", "framepipe/auth_svc", SIGN_OUT_REQUEST, None, _at(18, 10)
    ),
    "auth.user.deleted.v1": _Hop(
        "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
        "framepipe/auth_svc",
        ACCOUNT_DELETE_REQUEST,
        None,
        datetime(2026, 3, 20, 8, 0, tzinfo=UTC),
    ),
}


class NoExample(LookupError):
    """A registered type has no example yet: add one here when adding the type."""


def example(model: type[E]) -> E:
    """The example payload of an event model."""
    instance = _EXAMPLES.get(model)
    if not isinstance(instance, model):
        raise NoExample(model.__name__)
    return instance


def example_envelope(event_type: str) -> Envelope[EventData]:
    """The example payload of a registered type, wrapped as it travels: fixed id, time and causal chain."""
    hop = _HOPS.get(event_type)
    if hop is None:
        raise NoExample(event_type)
    return new_envelope(
        example(model_for(event_type)),
        source=hop.source,
        correlation_id=hop.correlation_id,
        causation_id=hop.causation_id,
        event_id=UUID(hop.event_id),
        time=hop.time,
    )
