"""The lifecycle of a video as every reader of it names it: video_svc's rows and answers, its OpenAPI document, the
migration's CHECK constraint and the clients that wait for a video to end."""

from __future__ import annotations

from enum import StrEnum


class VideoStatus(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


# A video in one of these changes no more (but for its deletion).
TERMINAL_STATUSES = frozenset({VideoStatus.DONE, VideoStatus.FAILED})
