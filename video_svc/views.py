"""The JSON representation of a video: what the API answers and what an idempotent upload stores."""

from __future__ import annotations

from typing import Any

import asyncpg


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
        "options": {"interval_seconds": row["interval_seconds"], "image_format": row["image_format"]},
        "frame_count": row["frame_count"],
        "duration_seconds": row["duration_seconds"],
        "result_size_bytes": row["result_size_bytes"],
        "error": error,
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "preview_count": row["preview_count"],
    }
