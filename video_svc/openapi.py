"""The OpenAPI 3.1 document of video_svc, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from contracts import ProcessingOptions
from servicekit.openapi import PROBLEM_SCHEMA, SECURITY_SCHEMES, problem
from servicekit.options import form_schema
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
        "preview_count": {
            "type": "integer",
            "minimum": 0,
            "description": "How many preview images of the first frames `GET /video/{id}/previews/{n}` serves.",
        },
    },
}


def _upload_body() -> dict[str, Any]:
    """The form: every processing option, with the contract's own bounds, then the files."""
    options = form_schema()
    return {
        "type": "object",
        "required": ["file"],
        "additionalProperties": False,
        "description": options.get("description", ""),
        "properties": {
            **options["properties"],
            "file": {"type": "array", "minItems": 1, "items": {"type": "string", "contentMediaType": "video/*"}},
        },
    }


def _options_schemas() -> dict[str, Any]:
    """ProcessingOptions as the contract's model describes it, with the enums it names, for components/schemas."""
    schema = ProcessingOptions.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"ProcessingOptions": {**schema, "required": list(schema["properties"])}, **defs}


_UPLOAD_DESCRIPTION = (
    "One or more `file` parts, each streamed to storage as it is read. The optional processing options "
    "(`interval_seconds`, `image_format`, `mode`, `count`, `start_seconds`, `end_seconds`, `width`, `height`, "
    "`quality`, `scene_threshold`, `max_frames`, `skip_black_start`, `storyboard`; leave one out for its default) "
    "must come **before** the first `file` part (422 otherwise): they are checked before any byte is stored, "
    "each against its bounds and together against the rules of the contract (e.g. `count` only in the `interval` "
    "mode, `max_frames` only in the others, `quality` not with `png`, `end_seconds` after `start_seconds`); a "
    "refusal is a 422 `validation_error` whose `errors` name the fields. Each file is judged by its first bytes "
    "(MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS, ASF/WMV), never by its name or declared type. A request that "
    "fails for any file stores nothing. An empty file is a 400 `empty_file`."
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
                    "schema": _upload_body(),
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
            "401": problem(
                "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted)."
            ),
            "413": problem(
                f"`upload_too_large` (over {settings.max_upload_bytes} bytes per file) or `too_many_files` "
                f"(over {settings.max_files_per_upload})."
            ),
            "408": problem(
                f"`upload_stalled`: nothing sent for {settings.upload_idle_timeout_seconds:g} s, or the upload "
                f"took longer than {settings.upload_max_seconds:g} s."
            ),
            "415": problem(
                "`unsupported_media`: not a supported video container; `unsupported_media_type`: not "
                "multipart/form-data; `content_encoding_not_accepted`: a Content-Encoding other than identity."
            ),
            "422": problem(
                "`validation_error`: an option out of its bounds, options that do not go together, options after "
                "files, or a bad Idempotency-Key; `errors` names each field."
            ),
            "429": problem(
                f"`too_many_uploads`: {settings.max_concurrent_uploads_per_user} uploads of this user are running "
                "(or the service is busy); `quota_exceeded`: `quota` says which (`uploads_per_hour`: "
                f"{settings.max_uploads_per_hour}, `bytes_per_day`: {settings.max_upload_bytes_per_day}, "
                f"`videos_in_flight`: {settings.max_videos_in_flight}).",
                {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
            ),
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
            "401": problem(
                "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted)."
            ),
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
            "401": problem(
                "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted)."
            ),
            "404": problem("No such video."),
            "409": problem("`not_ready`: the video is not `done`; `video_status` says what it is."),
            "422": problem("Bad `redirect`."),
        },
    }


_EVENTS_DESCRIPTION = (
    "Server-sent events (`text/event-stream`) of every change of the caller's videos, whichever replica made "
    'it: `video` (data: the video, as `GET /video/{id}` renders it), `deleted` (data: `{"id"}`), `ready` '
    "(sent once the stream is following; changes from then on are not missed), and `resync` (too much changed "
    "while away: list again). Event ids are times: a client that reconnects with `Last-Event-ID` (browsers do by "
    "themselves), or opens with `?since=<id>`, first gets what changed since, deletions and terminal states "
    "included. Comments keep idle connections open; the stream ends when the token expires."
)


def _events_operation(settings: Settings) -> dict[str, Any]:
    return {
        "operationId": "videoEvents",
        "summary": "Follow my videos live",
        "description": _EVENTS_DESCRIPTION,
        "parameters": [
            {"name": "since", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}},
            {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string", "pattern": "^[0-9]{1,20}$"}},
        ],
        "responses": {
            "200": {"description": "The stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "401": problem(
                "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted)."
            ),
            "422": problem("`validation_error`: `since` or `Last-Event-ID` is not an event id."),
            "429": problem(
                f"`too_many_streams`: {settings.max_event_streams_per_user} streams are open for this user.",
                {"Retry-After": {"schema": {"type": "string"}}},
            ),
        },
    }


def _limits_operation() -> dict[str, Any]:
    return {
        "operationId": "uploadLimits",
        "summary": "What an upload may be",
        "description": "Size and count limits, the containers recognised (with their usual file extensions) and "
        "the JSON Schema of the processing options, so a client can refuse a wrong file before sending it.",
        "security": [],
        "responses": {
            "200": _json(
                "The limits.",
                {
                    "type": "object",
                    "required": ["max_upload_bytes", "max_files_per_upload", "containers", "options"],
                    "properties": {
                        "max_upload_bytes": {"type": "integer"},
                        "max_files_per_upload": {"type": "integer"},
                        "containers": {"type": "array", "items": {"type": "object"}},
                        "options": {
                            "type": "object",
                            "description": "JSON Schema of the processing options as form fields (the request "
                            "body of `POST /video` without its files).",
                        },
                    },
                },
            )
        },
    }


def _preview_operation() -> dict[str, Any]:
    return {
        "operationId": "videoPreview",
        "summary": "A preview image of one of the first frames of a finished video",
        "parameters": [
            _ID_PARAM,
            {"name": "number", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
        ],
        "responses": {
            "200": {"description": "A JPEG that fits in 320x240.", "content": {"image/jpeg": {}}},
            "401": problem(
                "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted)."
            ),
            "404": problem("No such video, not `done`, or no such preview."),
        },
    }


def openapi_spec(settings: Settings) -> dict[str, Any]:
    unauthorized, missing = (
        problem(
            "`missing_token`, `invalid_token`, or `token_revoked` (signed out, password changed, account deleted)."
        ),
        problem("No such video."),
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "framepipe video_svc", "version": "1.0.0"},
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/video": {"post": _upload_operation(settings), "get": _list_operation()},
            "/video/events": {"get": _events_operation(settings)},
            "/video/limits": {"get": _limits_operation()},
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
            "/video/{id}/previews/{number}": {"get": _preview_operation()},
        },
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": {
                "Video": _VIDEO,
                "VideoList": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Video"}}},
                },
                **_options_schemas(),
                "Problem": PROBLEM_SCHEMA,
            },
        },
    }
