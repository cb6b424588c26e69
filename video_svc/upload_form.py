"""Reading the `multipart/form-data` body of an upload part by part, never buffering a file: option fields
first (so they are validated before any byte is stored), then the `file` parts, each streamed to storage as
it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from contracts import ProcessingOptions
from servicekit.options import OPTION_FIELDS, parse_options
from video_svc.media import ReadChunk
from video_svc.service import Upload

FILE_FIELD = "file"
FIELD_MAX_BYTES = 64
CHUNK_BYTES = 256 * 1024
T = TypeVar("T")


class NoFile(Exception):
    """The form had no `file` part."""


class TooManyFiles(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} files")
        self.limit = limit


class MalformedUpload(Exception):
    """The body is not a complete multipart form (bad framing, truncated, or the client went away)."""


class UploadStalled(Exception):
    """The client sent nothing for `idle` seconds, or took longer than the whole upload may."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"{what}: {seconds:g} s")
        self.what, self.seconds = what, seconds


class InvalidForm(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.errors = [{"field": field, "message": message}]


async def read_upload_form(
    request: web.Request, upload: Upload, max_files: int, idle_seconds: float, max_seconds: float
) -> ProcessingOptions:
    """Stream every file into `upload`; returns the processing options. A client that sends nothing for
    `idle_seconds` (waiting for it, not for storage) or takes longer than `max_seconds` in all is cut off."""
    reading = _Client(idle_seconds)
    try:
        async with asyncio.timeout(max_seconds) as whole:
            return await _read_parts(request, upload, max_files, reading)
    except TimeoutError:
        if whole.expired():
            raise UploadStalled("took longer than", max_seconds) from None
        raise
    except (ValueError, AssertionError, ConnectionError, HttpProcessingError, web.HTTPBadRequest) as exc:
        # aiohttp reports broken framing, a body cut short and a lost client this way; domain errors are
        # not among these types.
        raise MalformedUpload(str(exc)) from exc


class _Client:
    """Reads from the client, each read bounded by the idle timeout."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds

    async def __call__(self, read: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.idle_seconds) as idle:
                return await read
        except TimeoutError:
            if idle.expired():
                raise UploadStalled("sent nothing for", self.idle_seconds) from None
            raise


async def _read_parts(request: web.Request, upload: Upload, max_files: int, client: _Client) -> ProcessingOptions:
    reader = await request.multipart()
    fields: dict[str, str] = {}
    options: ProcessingOptions | None = None
    files = 0
    while (part := await client(reader.next())) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidForm("body", "nested multipart parts are not accepted")
        if part.name == FILE_FIELD:
            files += 1
            if files > max_files:
                raise TooManyFiles(max_files)
            options = options or parse_options(fields)
            await upload.add_file(part.filename, _chunk_reader(part, client))
        elif part.name in OPTION_FIELDS:
            if files:
                raise InvalidForm(part.name, "option fields must come before the file parts")
            if part.name in fields:
                raise InvalidForm(part.name, "given more than once")
            fields[part.name] = await _read_field(part, client)
        else:
            raise InvalidForm(part.name or "body", "unknown field")
    if not files:
        raise NoFile
    assert options is not None
    return options


def _chunk_reader(part: BodyPartReader, client: _Client) -> ReadChunk:
    async def read_chunk() -> bytes:
        return await client(part.read_chunk(CHUNK_BYTES))

    return read_chunk


async def _read_field(part: BodyPartReader, client: _Client) -> str:
    value = b""
    while chunk := await client(part.read_chunk(FIELD_MAX_BYTES + 1)):
        value += chunk
        if len(value) > FIELD_MAX_BYTES:
            raise InvalidForm(part.name or "body", f"longer than {FIELD_MAX_BYTES} bytes")
    try:
        return value.decode().strip()
    except UnicodeDecodeError:
        raise InvalidForm(part.name or "body", "not UTF-8 text") from None
