"""HTTP routes of video_svc: parse and check the request, call the use case, render. Domain errors become
problem+json here, each with a stable code."""

from __future__ import annotations

import json
import uuid

from aiohttp import web
from pydantic import BaseModel, Field

from contracts import ProcessingOptions, VideoStatus
from contracts.events import MAX_PREVIEWS
from servicekit.http import Problem, add_problems, correlation_id, validate
from servicekit.options import InvalidOptions, form_schema
from servicekit.problems import NOT_FOUND, UNSUPPORTED_MEDIA_TYPE, VALIDATION_ERROR, ProblemTable, ProblemType
from servicekit.runtime import POOL, STORAGE
from servicekit.tokens import authenticated_user
from video_svc import admission, service
from video_svc.admission import QuotaExceeded, TooManyUploads
from video_svc.live import LiveChanges, TooManyStreams
from video_svc.media import CONTAINERS, UploadTooLarge
from video_svc.schemas import Container, DownloadLink, UploadLimits, VideoPage
from video_svc.settings import Settings
from video_svc.stream import stream_changes
from video_svc.upload_form import (
    InvalidForm,
    MalformedUpload,
    NoFile,
    TooManyFiles,
    UploadStalled,
    read_upload_form,
)
from video_svc.views import render_video, video_answer

SETTINGS = web.AppKey("video_settings", Settings)
LIVE = web.AppKey("live_changes", LiveChanges)
UPLOAD_SLOTS = web.AppKey("upload_slots", admission.UploadSlots)
EVENT_ID_MAX_DIGITS = 20

NO_SUCH_VIDEO = NOT_FOUND.with_detail("No such video.")
NOT_READY = ProblemType(409, "not_ready", "The video is not processed yet.")
UNSUPPORTED_MEDIA = ProblemType(
    415, "unsupported_media", "A file is not a supported video (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS, ASF)."
)
UPLOAD_TOO_LARGE = ProblemType(413, "upload_too_large", "A file is too large.")
TOO_MANY_FILES = ProblemType(413, "too_many_files", "Too many files.")
UPLOAD_STALLED = ProblemType(408, "upload_stalled", "The upload was too slow.")
TOO_MANY_UPLOADS = ProblemType(429, "too_many_uploads", "Too many uploads at once.")
QUOTA_EXCEEDED = ProblemType(429, "quota_exceeded", "An upload quota is used up.")
TOO_MANY_STREAMS = ProblemType(429, "too_many_streams", "Too many open event streams.", headers={"Retry-After": "10"})

PROBLEMS: ProblemTable = {
    service.VideoNotFound: NO_SUCH_VIDEO,
    service.NotReady: lambda e: NOT_READY(f"Its status is {e.status}.", video_status=e.status),
    service.EmptyFile: ProblemType(400, "empty_file", "A file part is empty."),
    service.UnsupportedMedia: UNSUPPORTED_MEDIA,
    UploadTooLarge: lambda e: UPLOAD_TOO_LARGE(f"Each file may have at most {e.limit} bytes.", limit=e.limit),
    TooManyFiles: lambda e: TOO_MANY_FILES(f"At most {e.limit} files per request.", limit=e.limit),
    NoFile: ProblemType(400, "no_file", "Send at least one part named `file`."),
    MalformedUpload: ProblemType(400, "malformed_upload", "The multipart body is incomplete or malformed."),
    TooManyStreams: lambda e: TOO_MANY_STREAMS(
        f"At most {e.limit} at once per user; close another page first.", limit=e.limit
    ),
    InvalidForm: lambda e: VALIDATION_ERROR(str(e), errors=e.errors),
    InvalidOptions: lambda e: VALIDATION_ERROR(str(e), errors=e.errors),
    UploadStalled: lambda e: UPLOAD_STALLED(f"The client {e.what} {e.seconds:g} seconds."),
    TooManyUploads: lambda e: TOO_MANY_UPLOADS(
        "Wait for one to finish." if e.scope == "user" else "The service is busy; try again shortly.",
        headers={"Retry-After": str(e.retry_after)},
        scope=e.scope,
        limit=e.limit,
    ),
    QuotaExceeded: lambda e: QUOTA_EXCEEDED(
        f"{e.quota}: {e.limit}.",
        headers={"Retry-After": str(e.retry_after)},
        quota=e.quota,
        limit=e.limit,
        retry_after=e.retry_after,
    ),
}


def _invalid(field: str, message: str) -> Problem:
    return VALIDATION_ERROR(f"Invalid: {field}", errors=[{"field": field, "message": message}])


def add_routes(app: web.Application) -> None:
    add_problems(app, PROBLEMS)
    app.router.add_post("/video", upload_videos)
    app.router.add_get("/video", list_videos)
    app.router.add_get("/video/events", video_events)  # before /video/{id}: fixed paths win
    app.router.add_get("/video/limits", upload_limits)
    app.router.add_get("/video/{id}", get_video)
    app.router.add_get("/video/{id}/download", download_video)
    app.router.add_get("/video/{id}/previews/{number}", video_preview)
    app.router.add_delete("/video/{id}", delete_video)


async def upload_videos(request: web.Request) -> web.Response:
    owner = authenticated_user(request).user_id
    key = _idempotency_key(request)
    settings = request.app[SETTINGS]
    quotas = admission.Quotas(
        settings.max_uploads_per_hour, settings.max_upload_bytes_per_day, settings.max_videos_in_flight
    )
    uploads = service.Uploads(
        request.app[POOL],
        request.app[STORAGE],
        request.app[UPLOAD_SLOTS],
        settings.max_upload_bytes,
        settings.max_files_per_upload,
        quotas,
    )
    form = MultipartUpload(request, settings)
    return _upload_response(await service.upload_videos(uploads, owner, key, form, correlation_id(request)))


class MultipartUpload:
    """The request's body as the upload use case reads it (service.UploadForm): files and option fields."""

    def __init__(self, request: web.Request, settings: Settings) -> None:
        self._request, self._settings = request, settings

    @property
    def declared_length(self) -> int | None:
        return self._request.content_length

    def check(self) -> None:
        if self._request.content_type != "multipart/form-data":
            raise UNSUPPORTED_MEDIA_TYPE("Send the videos as multipart/form-data.")
        if self._request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
            # A compressed body would be inflated while it is read (51 KB of gzip made 50 MiB): videos are sent as is.
            raise Problem(415, "content_encoding_not_accepted", "Send the videos without Content-Encoding.")

    async def read(self, upload: service.Upload) -> ProcessingOptions:
        settings = self._settings
        return await read_upload_form(
            self._request,
            upload,
            settings.max_files_per_upload,
            settings.upload_idle_timeout_seconds,
            settings.upload_max_seconds,
        )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= service.IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise _invalid("Idempotency-Key", f"1 to {service.IDEMPOTENCY_KEY_MAX} printable ASCII characters")
    return key


def _upload_response(upload: service.UploadResponse) -> web.Response:
    response = web.Response(status=upload.status, text=upload.body, content_type="application/json")
    items = json.loads(upload.body)["items"]
    if len(items) == 1:
        response.headers["Location"] = f"/video/{items[0]['id']}"
    if upload.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


class ListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    status: VideoStatus | None = None
    cursor: str | None = Field(default=None, max_length=200)


async def list_videos(request: web.Request) -> web.Response:
    owner = authenticated_user(request).user_id
    query = validate(ListQuery, {k: v for k, v in request.query.items() if k in ListQuery.model_fields})
    page = await service.list_videos(
        request.app[POOL], owner, limit=query.limit, status=query.status, cursor=query.cursor
    )
    answer = VideoPage(items=[video_answer(row) for row in page.items], next_cursor=page.next_cursor)
    return web.json_response(answer.model_dump(mode="json"))


def _video_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise service.VideoNotFound from None


async def get_video(request: web.Request) -> web.Response:
    owner = authenticated_user(request).user_id
    row = await service.get_video(request.app[POOL], owner, _video_id(request))
    return web.json_response(render_video(row))


async def download_video(request: web.Request) -> web.Response:
    owner = authenticated_user(request).user_id
    redirect = request.query.get("redirect", "true")
    if redirect not in ("true", "false"):
        raise _invalid("redirect", "true or false")
    video_id = _video_id(request)
    ttl = request.app[SETTINGS].download_url_ttl_seconds
    link = await service.download(request.app[POOL], request.app[STORAGE], owner, video_id, ttl)
    headers = {"Cache-Control": "no-store"}
    if redirect == "false":
        body = DownloadLink(url=link.url, expires_at=link.expires_at)
        return web.json_response(body.model_dump(mode="json"), headers=headers)
    return web.Response(status=302, headers={**headers, "Location": link.url})


async def video_preview(request: web.Request) -> web.Response:
    owner = authenticated_user(request).user_id
    video_id = _video_id(request)
    raw = request.match_info["number"]
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PREVIEWS:
        raise service.VideoNotFound
    image = await service.preview(request.app[POOL], request.app[STORAGE], owner, video_id, int(raw))
    return web.Response(body=image, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def video_events(request: web.Request) -> web.StreamResponse:
    claims = authenticated_user(request)
    limit = request.app[SETTINGS].max_event_streams_per_user
    return await stream_changes(request, request.app[LIVE], claims.user_id, _since(request), claims.expires_at, limit)


def _since(request: web.Request) -> int | None:
    """Where a stream resumes: the browser's Last-Event-ID on reconnect, or `since` (an event id) on the first."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("since")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > EVENT_ID_MAX_DIGITS:
        raise _invalid("since", "an event id from this stream")
    return int(raw)


async def upload_limits(request: web.Request) -> web.Response:
    """What an upload may be, so a client can refuse an obviously wrong file before sending it."""
    settings = request.app[SETTINGS]
    body = UploadLimits(
        max_upload_bytes=settings.max_upload_bytes,
        max_files_per_upload=settings.max_files_per_upload,
        containers=[Container(content_type=kind, extensions=list(ext)) for kind, ext in CONTAINERS.items()],
        options=form_schema(),
    )
    return web.json_response(body.model_dump(mode="json"), headers={"Cache-Control": "public, max-age=300"})


async def delete_video(request: web.Request) -> web.Response:
    owner = authenticated_user(request).user_id
    video_id = _video_id(request)
    await service.delete_video(request.app[POOL], request.app[STORAGE], owner, video_id, correlation_id(request))
    return web.Response(status=204)
