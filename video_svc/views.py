"""The JSON representation of a video: what the API answers and what an idempotent upload stores."""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts import ProcessingOptions
from video_svc.schemas import Video, VideoError


def video_answer(row: asyncpg.Record) -> Video:
    error = None
    if row["error_code"] is not None:
        error = VideoError(code=row["error_code"], message=row["error_message"] or "")
    return Video(
        id=row["id"],
        filename=row["filename"],
        content_type=row["content_type"],
        size_bytes=row["size_bytes"],
        status=row["status"],
        progress=row["progress"],
        options=stored_options(row),
        frame_count=row["frame_count"],
        duration_seconds=row["duration_seconds"],
        result_size_bytes=row["result_size_bytes"],
        error=error,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        preview_count=row["preview_count"],
    )


def render_video(row: asyncpg.Record) -> dict[str, Any]:
    rendered: dict[str, Any] = video_answer(row).model_dump(mode="json")
    return rendered


def stored_options(row: asyncpg.Record) -> ProcessingOptions:
    """Every option of the video; a row from before migration 0004 kept only the first two, the others were their
    defaults."""
    if row["options"] is None:
        return ProcessingOptions.model_validate(
            {"interval_seconds": row["interval_seconds"], "image_format": row["image_format"]}
        )
    return ProcessingOptions.model_validate_json(row["options"])
