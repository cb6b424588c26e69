"""The JSON answers of video_svc's HTTP API, as the handlers render them and its OpenAPI document describes them."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from contracts import ProcessingOptions, VideoStatus
from servicekit.openapi_models import Timestamp


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    id: uuid.UUID
    filename: str = Field(description="The client's file name, for display only.")
    content_type: str = Field(description="Detected from the file's first bytes.")
    size_bytes: int = Field(ge=1)
    status: VideoStatus
    progress: float = Field(ge=0, le=1)
    options: ProcessingOptions
    frame_count: int | None
    duration_seconds: float | None
    result_size_bytes: int | None
    error: VideoError | None
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None
    preview_count: int = Field(
        ge=0, description="How many preview images of the first frames `GET /video/{id}/previews/{n}` serves."
    )


class VideoList(BaseModel):
    items: list[Video]


class VideoPage(BaseModel):
    items: list[Video]
    next_cursor: str | None


class DownloadLink(BaseModel):
    url: str
    expires_at: Timestamp


class Container(BaseModel):
    content_type: str
    extensions: list[str]


class UploadLimits(BaseModel):
    max_upload_bytes: int
    max_files_per_upload: int
    containers: list[Container]
    options: dict[str, Any] = Field(
        description="JSON Schema of the processing options as form fields (the request body of `POST /video` "
        "without its files)."
    )
