"""The OpenAPI 3.1 document of video_svc, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from servicekit.openapi import INVALID_CURSOR, UNAUTHENTICATED, Answer, Operation, document
from servicekit.options import form_schema
from video_svc.api import ListQuery
from video_svc.schemas import DownloadLink, UploadLimits, Video, VideoList, VideoPage
from video_svc.service import IDEMPOTENCY_KEY_MAX
from video_svc.settings import Settings

_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_NUMBER_PARAM = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_NO_VIDEO = "No such video."
_EVENT_ID = {"type": "string", "pattern": "^[0-9]{1,20}$"}


def _upload_body() -> dict[str, Any]:
    """The form: every processing option, with the contract's own bounds, then the files."""
    options = form_schema()
    form = {
        "type": "object",
        "required": ["file"],
        "additionalProperties": False,
        "description": options.get("description", ""),
        "properties": {
            **options["properties"],
            "file": {"type": "array", "minItems": 1, "items": {"type": "string", "contentMediaType": "video/*"}},
        },
    }
    encoding = {"file": {"contentType": "application/octet-stream"}}
    return {"required": True, "content": {"multipart/form-data": {"schema": form, "encoding": encoding}}}


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
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key from the same user within 24 h returns the first response.",
    "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
}
_ACCEPTED_HEADERS = {
    "Location": {"description": "Set when one file was sent.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the key.",
        "schema": {"type": "string"},
    },
}


def _upload(settings: Settings) -> Operation:
    return Operation(
        "post",
        "/video",
        "Upload videos for frame extraction",
        description=_UPLOAD_DESCRIPTION,
        parameters=[_IDEMPOTENCY_KEY],
        request_body=_upload_body(),
        answers={202: Answer("Accepted; processing is asynchronous.", VideoList, headers=_ACCEPTED_HEADERS)},
        problems={
            400: "`no_file`, `empty_file` or `malformed_upload`.",
            401: UNAUTHENTICATED,
            408: f"`upload_stalled`: nothing sent for {settings.upload_idle_timeout_seconds:g} s, or the upload "
            f"took longer than {settings.upload_max_seconds:g} s.",
            413: f"`upload_too_large` (over {settings.max_upload_bytes} bytes per file) or `too_many_files` "
            f"(over {settings.max_files_per_upload}).",
            415: "`unsupported_media`: not a supported video container; `unsupported_media_type`: not "
            "multipart/form-data; `content_encoding_not_accepted`: a Content-Encoding other than identity.",
            422: "`validation_error`: an option out of its bounds, options that do not go together, options after "
            "files, or a bad Idempotency-Key; `errors` names each field.",
            429: (
                f"`too_many_uploads`: {settings.max_concurrent_uploads_per_user} uploads of this user are running "
                "(or the service is busy); `quota_exceeded`: `quota` says which (`uploads_per_hour`: "
                f"{settings.max_uploads_per_hour}, `bytes_per_day`: {settings.max_upload_bytes_per_day}, "
                f"`videos_in_flight`: {settings.max_videos_in_flight}).",
                {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
            ),
        },
    )


_EVENTS_DESCRIPTION = (
    "Server-sent events (`text/event-stream`) of every change of the caller's videos, whichever replica made "
    'it: `video` (data: the video, as `GET /video/{id}` renders it), `deleted` (data: `{"id"}`), `ready` '
    "(sent once the stream is following; changes from then on are not missed), and `resync` (too much changed "
    "while away: list again). Event ids are times: a client that reconnects with `Last-Event-ID` (browsers do by "
    "themselves), or opens with `?since=<id>`, first gets what changed since, deletions and terminal states "
    "included. Comments keep idle connections open; the stream ends when the token expires."
)


def _events(settings: Settings) -> Operation:
    return Operation(
        "get",
        "/video/events",
        "Follow my videos live",
        operation_id="videoEvents",
        description=_EVENTS_DESCRIPTION,
        parameters=[
            {"name": "since", "in": "query", "schema": _EVENT_ID},
            {"name": "Last-Event-ID", "in": "header", "schema": _EVENT_ID},
        ],
        answers={200: Answer("The stream.", media="text/event-stream", schema={"type": "string"})},
        problems={
            401: UNAUTHENTICATED,
            422: "`validation_error`: `since` or `Last-Event-ID` is not an event id.",
            429: (
                f"`too_many_streams`: {settings.max_event_streams_per_user} streams are open for this user.",
                {"Retry-After": {"schema": {"type": "string"}}},
            ),
        },
    )


def _download(settings: Settings) -> Operation:
    return Operation(
        "get",
        "/video/{id}/download",
        "Download the ZIP of frames",
        description=f"A presigned URL valid for {settings.download_url_ttl_seconds} s.",
        parameters=[_ID_PARAM, {"name": "redirect", "in": "query", "schema": {"enum": ["true", "false"]}}],
        answers={
            200: Answer("With `redirect=false`: the URL.", DownloadLink),
            302: Answer("Redirect to the ZIP.", headers={"Location": {"schema": {"type": "string"}}}),
        },
        problems={
            401: UNAUTHENTICATED,
            404: _NO_VIDEO,
            409: "`not_ready`: the video is not `done`; `video_status` says what it is.",
            422: "Bad `redirect`.",
        },
    )


_LIST = Operation(
    "get",
    "/video",
    "List my videos, newest first",
    query=ListQuery,
    answers={200: Answer("A page of videos.", VideoPage)},
    problems={400: INVALID_CURSOR, 401: UNAUTHENTICATED, 422: "Bad `limit`, `status` or `cursor`."},
)
_LIMITS = Operation(
    "get",
    "/video/limits",
    "What an upload may be",
    operation_id="uploadLimits",
    description="Size and count limits, the containers recognised (with their usual file extensions) and the JSON "
    "Schema of the processing options, so a client can refuse a wrong file before sending it.",
    security=[],
    answers={200: Answer("The limits.", UploadLimits)},
)
_ONE = [
    Operation(
        "get",
        "/video/{id}",
        "One of my videos",
        parameters=[_ID_PARAM],
        answers={200: Answer("The video.", Video)},
        problems={401: UNAUTHENTICATED, 404: _NO_VIDEO},
    ),
    Operation(
        "delete",
        "/video/{id}",
        "Delete a video, its source and its ZIP",
        parameters=[_ID_PARAM],
        answers={204: Answer("Deleted.")},
        problems={401: UNAUTHENTICATED, 404: _NO_VIDEO},
    ),
    Operation(
        "get",
        "/video/{id}/previews/{number}",
        "A preview image of one of the first frames of a finished video",
        operation_id="videoPreview",
        parameters=[
            _ID_PARAM,
            {"name": "number", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
        ],
        answers={200: Answer("A JPEG that fits in 320x240.", media="image/jpeg", schema={})},
        problems={401: UNAUTHENTICATED, 404: "No such video, not `done`, or no such preview."},
    ),
]


def openapi_spec(settings: Settings) -> dict[str, Any]:
    operations = [_upload(settings), _LIST, _events(settings), _LIMITS, *_ONE[:1], _download(settings), *_ONE[1:]]
    spec = document({"title": "framepipe video_svc", "version": "1.0.0"}, operations)
    # A video's options are rendered in full (model_dump keeps the defaults): every one is always there.
    options = spec["components"]["schemas"]["ProcessingOptions"]
    options["required"] = list(options["properties"])
    return spec
