"""The OpenAPI 3.1 document of video_svc, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from servicekit.openapi import PROBLEM_SCHEMA, problem
from video_svc.service import IDEMPOTENCY_KEY_MAX, STATUSES
from video_svc.settings import Settings

_NULLABLE_NUMBER = {"type": ["number", "null"]}
_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


_VIDEO = {
    "type": "object",
    "required": ["id", "filename", "content_type", "size_bytes", "status", "progress", "options", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "filename": {"type": "string", "description": "The client's file name, for display only."},
        "content_type": {"type": "string", "description": "Detected from the file's first bytes."},
        "size_bytes": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "enum": list(STATUSES)},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "options": {"$ref": "#/components/schemas/ProcessingOptions"},
        "frame_count": {"type": ["integer", "null"]},
        "duration_seconds": _NULLABLE_NUMBER,
        "result_size_bytes": {"type": ["integer", "null"]},
        "error": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            ]
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

_UPLOAD_BODY = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {
        "interval_seconds": {"type": "number", "minimum": 0.1, "maximum": 3600, "default": 1},
        "image_format": {"type": "string", "enum": ["png", "jpg"], "default": "png"},
        "file": {"type": "array", "minItems": 1, "items": {"type": "string", "contentMediaType": "video/*"}},
    },
}

_UPLOAD_DESCRIPTION = (
    "One or more `file` parts, each streamed to storage as it is read. The optional fields `interval_seconds` "
    "and `image_format` must come **before** the first `file` part (422 otherwise): they are checked before "
    "any byte is stored. Each file is judged by its first bytes (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS, "
    "ASF/WMV), never by its name or declared type. A request that fails for any file stores nothing. "
    "An empty file is a 400 `empty_file`."
)


def _upload_operation(settings: Settings) -> dict[str, Any]:
    return {
        "summary": "Upload videos for frame extraction",
        "description": _UPLOAD_DESCRIPTION,
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "The same key from the same user within 24 h returns the first response.",
                "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": _UPLOAD_BODY,
                    "encoding": {"file": {"contentType": "application/octet-stream"}},
                }
            },
        },
        "responses": {
            "202": _json(
                "Accepted; processing is asynchronous.",
                {"$ref": "#/components/schemas/VideoList"},
                headers={
                    "Location": {"description": "Set when one file was sent.", "schema": {"type": "string"}},
                    "Idempotent-Replayed": {
                        "description": "`true` when this is the stored response of an earlier request with the key.",
                        "schema": {"type": "string"},
                    },
                },
            ),
            "400": problem("`no_file`, `empty_file` or `malformed_upload`."),
            "401": problem("Missing or invalid token."),
            "413": problem(
                f"`upload_too_large` (over {settings.max_upload_bytes} bytes per file) or `too_many_files` "
                f"(over {settings.max_files_per_upload})."
            ),
            "415": problem("`unsupported_media`: not a supported video container."),
            "422": problem("`validation_error`: bad options, options after files, or a bad Idempotency-Key."),
        },
    }


def _list_operation() -> dict[str, Any]:
    return {
        "summary": "List my videos, newest first",
        "parameters": [
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
            {
                "name": "cursor",
                "in": "query",
                "schema": {"type": "string"},
                "description": "`next_cursor` of the last page.",
            },
        ],
        "responses": {
            "200": _json(
                "A page of videos.",
                {
                    "type": "object",
                    "required": ["items", "next_cursor"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Video"}},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
            ),
            "401": problem("Missing or invalid token."),
            "422": problem("Bad `limit`, `status` or `cursor`."),
        },
    }


def _download_operation(settings: Settings) -> dict[str, Any]:
    return {
        "summary": "Download the ZIP of frames",
        "description": f"A presigned URL valid for {settings.download_url_ttl_seconds} s.",
        "parameters": [
            _ID_PARAM,
            {"name": "redirect", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
        ],
        "responses": {
            "200": _json(
                "With `redirect=false`: the URL.",
                {
                    "type": "object",
                    "required": ["url", "expires_at"],
                    "properties": {"url": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}},
                },
            ),
            "302": {"description": "Redirect to the ZIP.", "headers": {"Location": {"schema": {"type": "string"}}}},
            "401": problem("Missing or invalid token."),
            "404": problem("No such video."),
            "409": problem("`not_ready`: the video is not `done`; `video_status` says what it is."),
            "422": problem("Bad `redirect`."),
        },
    }


def openapi_spec(settings: Settings) -> dict[str, Any]:
    unauthorized, missing = problem("Missing or invalid token."), problem("No such video.")
    return {
        "openapi": "3.1.0",
        "info": {"title": "framepipe video_svc", "version": "1.0.0"},
        "security": [{"bearer": []}],
        "paths": {
            "/video": {"post": _upload_operation(settings), "get": _list_operation()},
            "/video/{id}": {
                "get": {
                    "summary": "One of my videos",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _json("The video.", {"$ref": "#/components/schemas/Video"}),
                        "401": unauthorized,
                        "404": missing,
                    },
                },
                "delete": {
                    "summary": "Delete a video, its source and its ZIP",
                    "parameters": [_ID_PARAM],
                    "responses": {"204": {"description": "Deleted."}, "401": unauthorized, "404": missing},
                },
            },
            "/video/{id}/download": {"get": _download_operation(settings)},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Video": _VIDEO,
                "VideoList": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Video"}}},
                },
                "ProcessingOptions": {
                    "type": "object",
                    "properties": {
                        "interval_seconds": {"type": "number"},
                        "image_format": {"type": "string", "enum": ["png", "jpg"]},
                    },
                },
                "Problem": PROBLEM_SCHEMA,
            },
        },
    }
