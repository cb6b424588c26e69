"""The JSON representation of a video: what the API answers and what an idempotent upload stores."""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts import ProcessingOptions


def render_video(row: asyncpg.Record) -> dict[str, Any]:
    error = None
    if row["error_code"] is not None:
        error = {"code": row["error_code"], "message": row["error_message"] or ""}
    return {
        "id": str(row["id"]),
        "filename": row["filename"],
        "content_type": row["content_type"],
        "size_bytes": row["size_bytes"],
        "status": row["status"],
        "progress": row["progress"],
        "options": stored_options(row).model_dump(mode="json"),
        "frame_count": row["frame_count"],
        "duration_seconds": row["duration_seconds"],
        "result_size_bytes": row["result_size_bytes"],
        "error": error,
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "preview_count": row["preview_count"],
    }


def stored_options(row: asyncpg.Record) -> ProcessingOptions:
    """Every option of the video; a row from before migration 0004 kept only the first two, the others were their
    defaults."""
    if row["options"] is None:
        return ProcessingOptions.model_validate(
            {"interval_seconds": row["interval_seconds"], "image_format": row["image_format"]}
        )
    return ProcessingOptions.model_validate_json(row["options"])
