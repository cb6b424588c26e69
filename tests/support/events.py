"""Sample events of the contract: any valid event on the bus, and the processor's outcomes with the values a test
cares about given and the rest filled in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts import (
    EventData,
    FailureCode,
    ProcessingError,
    ResultObject,
    VideoDeletedV1,
    VideoFailedV1,
    VideoProcessedV1,
    new_envelope,
)
from contracts.envelope import Envelope

PROCESSOR = "framepipe/processor_svc"


def deleted_event(correlation_id: str | None = None) -> Envelope[VideoDeletedV1]:
    data = VideoDeletedV1(video_id=uuid.uuid4(), owner_id=uuid.uuid4(), deleted_at=datetime.now(UTC))
    return new_envelope(data, source="framepipe/tests", correlation_id=correlation_id)


def processed_data(
    owner_id: uuid.UUID, video_id: uuid.UUID | None = None, result: ResultObject | None = None, **fields: Any
) -> VideoProcessedV1:
    """A `video.processed.v1`; its ZIP a made-up object unless `result` is given."""
    video_id = video_id or uuid.uuid4()
    result = result or ResultObject(
        bucket="results", key=f"videos/{video_id}/frames.zip", size_bytes=1234, sha256="0" * 64
    )
    values: dict[str, Any] = {"frame_count": 5, "duration_seconds": 4.0, "processing_seconds": 1.0, **fields}
    return VideoProcessedV1(
        video_id=video_id, owner_id=owner_id, result=result, finished_at=datetime.now(UTC), **values
    )


def failed_data(
    owner_id: uuid.UUID,
    video_id: uuid.UUID | None = None,
    code: FailureCode = FailureCode.NO_VIDEO_STREAM,
    message: str = "The file has no video stream.",
) -> VideoFailedV1:
    return VideoFailedV1(
        video_id=video_id or uuid.uuid4(),
        owner_id=owner_id,
        error=ProcessingError(code=code, message=message),
        attempts=1,
        failed_at=datetime.now(UTC),
    )


def from_processor(data: EventData) -> Envelope[Any]:
    """The event in its envelope, as processor_svc publishes it."""
    return new_envelope(data, source=PROCESSOR)
