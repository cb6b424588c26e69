"""The HTTP API as the client sees it: base URLs, the saved token, one method per endpoint, and every failure
turned into an `ApiError` carrying the problem+json `code` and `detail` and the exit code scripts branch on."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.payload import AsyncIterablePayload

CHUNK_BYTES = 256 * 1024

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_REJECTED = 6
EXIT_THROTTLED = 7
EXIT_UNAVAILABLE = 8
EXIT_VIDEO_FAILED = 9

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  other error
  2  bad command line
  3  not logged in, session expired, or wrong e-mail/password (401)
  4  not found, or not yours (404)
  5  conflict: e-mail already registered, or the video is not ready yet (409)
  6  input rejected: too large (413), not a supported video (415), invalid value (400/422)
  7  throttled: too many attempts, try again later (429)
  8  server error or service unreachable (5xx, connection refused, timeout)
  9  the video failed processing (status --watch)
"""

DEFAULT_URLS = {
    "auth": "http://127.0.0.1:8081",
    "video": "http://127.0.0.1:8082",
    "notify": "http://127.0.0.1:8083",
    "webhook": "http://127.0.0.1:8089",
}
RETRY_STATUSES = (429, 503)

_EXIT_BY_STATUS = {401: EXIT_AUTH, 403: EXIT_AUTH, 404: EXIT_NOT_FOUND, 409: EXIT_CONFLICT, 429: EXIT_THROTTLED}

Progress = Callable[[int], None]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        retry_after: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.extra = extra or {}

    @property
    def exit_code(self) -> int:
        if self.status in _EXIT_BY_STATUS:
            return _EXIT_BY_STATUS[self.status]
        if self.status in (400, 413, 415, 422):
            return EXIT_REJECTED
        return EXIT_UNAVAILABLE if self.status == 0 or self.status >= 500 else EXIT_OTHER


@dataclass(frozen=True)
class BaseUrls:
    auth: str
    video: str
    notify: str
    webhook: str = DEFAULT_URLS["webhook"]

    @classmethod
    def from_options(
        cls,
        origin: str | None,
        auth: str | None,
        video: str | None,
        notify: str | None,
        env: dict[str, str],
        *,
        webhook: str | None = None,
        remembered: dict[str, str] | None = None,
    ) -> BaseUrls:
        """`--url` (one origin behind a reverse proxy) wins; then each `--*-url`, FRAMEPIPE_URL, FRAMEPIPE_*_URL,
        the URLs remembered at the last login, and the local defaults."""
        saved = remembered or {}
        flags = {"auth": auth, "video": video, "notify": notify, "webhook": webhook}
        origin = origin or (None if any(flags.values()) else env.get("FRAMEPIPE_URL"))
        if origin:
            return cls(*[origin.rstrip("/")] * 4)
        if (
            not any(flags.values())
            and not any(env.get(f"FRAMEPIPE_{n.upper()}_URL") for n in flags)
            and saved.get("url")
        ):
            return cls(*[saved["url"].rstrip("/")] * 4)
        resolved = {
            name: (flag or env.get(f"FRAMEPIPE_{name.upper()}_URL") or saved.get(name) or DEFAULT_URLS[name]).rstrip(
                "/"
            )
            for name, flag in flags.items()
        }
        return cls(**resolved)


def explicit_urls(origin: str | None, per_service: dict[str, str | None], env: dict[str, str]) -> dict[str, str]:
    """The server URLs the user gave (flags or environment), to remember at login: never the defaults."""
    origin = origin or env.get("FRAMEPIPE_URL")
    if origin:
        return {"url": origin.rstrip("/")}
    given = {name: flag or env.get(f"FRAMEPIPE_{name.upper()}_URL") for name, flag in per_service.items()}
    return {name: value.rstrip("/") for name, value in given.items() if value}


def token_path(env: dict[str, str]) -> Path:
    config_home = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "framepipe" / "token.json"


def save_token(path: Path, record: dict[str, Any]) -> None:
    """Write the token readable by its owner only, from the first byte (no window with wider permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)


def load_session(path: Path) -> dict[str, Any]:
    """The record saved at login (token, e-mail, server URLs), or {} when there is none."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def load_token(path: Path) -> str | None:
    token = load_session(path).get("access_token")
    return token if isinstance(token, str) else None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def problem_from(response: aiohttp.ClientResponse) -> ApiError:
    """An ApiError from an error response, whether or not its body is problem+json."""
    body: Any = None
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        body = None
    if not isinstance(body, dict):
        body = {}
    detail = body.get("detail") or body.get("title") or response.reason or "error"
    return ApiError(
        response.status,
        str(body.get("code") or f"http_{response.status}"),
        str(detail),
        retry_after=response.headers.get("Retry-After"),
        extra=body,
    )


async def file_chunks(path: Path, progress: Progress) -> AsyncIterator[bytes]:
    """The file's bytes in chunks, counting them as aiohttp sends them (the count is the progress bar)."""
    sent = 0
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
            sent += len(chunk)
            progress(sent)


def content_type_of(path: Path) -> str:
    guessed = {".mkv": "video/x-matroska", ".webm": "video/webm"}.get(path.suffix.lower())
    return guessed or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


RetryNotice = Callable[[ApiError, float, int], None]


class Api:
    """`retries`: how many times a request answered 429 or 503 is sent again, after the Retry-After the server
    asked for (or 1, 2, 4… s), as long as that wait is at most `max_wait` seconds. A repeated POST carries the
    same Idempotency-Key as the first, so the server applies it once."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: BaseUrls,
        token: str | None,
        *,
        retries: int = 3,
        max_wait: float = 60.0,
        on_retry: RetryNotice | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = session
        self.urls = urls
        self._token = token
        self._retries = retries
        self._max_wait = max_wait
        self._on_retry = on_retry
        self._sleep = sleep

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._http

    def _auth(self) -> dict[str, str]:
        if not self._token:
            raise ApiError(401, "not_logged_in", "not logged in")
        return {"Authorization": f"Bearer {self._token}"}

    async def _json(
        self, method: str, url: str, *, auth: bool = True, data_factory: Callable[[], Any] | None = None, **kwargs: Any
    ) -> Any:
        headers = {**(self._auth() if auth else {}), **kwargs.pop("headers", {})}
        for attempt in range(self._retries + 1):
            if data_factory is not None:
                kwargs["data"] = data_factory()  # a streamed body is read once: a retry needs a fresh one
            try:
                return await self._send(method, url, headers, kwargs)
            except ApiError as error:
                wait = self._retry_wait(error, attempt)
                if wait is None:
                    raise
                if self._on_retry is not None:
                    self._on_retry(error, wait, attempt + 1)
                await self._sleep(wait)
        raise AssertionError("unreachable")

    def _retry_wait(self, error: ApiError, attempt: int) -> float | None:
        if error.status not in RETRY_STATUSES or attempt >= self._retries:
            return None
        wait = retry_after_seconds(error.retry_after)
        wait = float(2**attempt) if wait is None else wait
        return wait if wait <= self._max_wait else None

    async def _send(self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]) -> Any:
        try:
            async with self._http.request(method, url, headers=headers, **kwargs) as response:
                if response.status >= 400:
                    raise await problem_from(response)
                if response.status == 204:
                    return None
                return await response.json(content_type=None)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise ApiError(0, "unreachable", f"cannot reach {url}: {exc or exc.__class__.__name__}") from None

    async def register(self, email: str, password: str) -> dict[str, Any]:
        body = {"email": email, "password": password}
        result: dict[str, Any] = await self._json("POST", f"{self.urls.auth}/register", auth=False, json=body)
        return result

    async def login(self, email: str, password: str) -> dict[str, Any]:
        body = {"email": email, "password": password}
        result: dict[str, Any] = await self._json("POST", f"{self.urls.auth}/login", auth=False, json=body)
        return result

    async def upload(
        self,
        path: Path,
        options: Mapping[str, str],
        progress: Progress,
        idempotency_key: str | None = None,
    ) -> Any:
        def form() -> aiohttp.MultipartWriter:
            writer = aiohttp.MultipartWriter("form-data")
            # Options first: the server reads the parts in order while it streams the file to storage.
            for name, value in options.items():
                writer.append(value).set_content_disposition("form-data", name=name)
            payload = AsyncIterablePayload(file_chunks(path, progress), content_type=content_type_of(path))
            payload.set_content_disposition("form-data", name="file", filename=path.name)
            writer.append_payload(payload)
            return writer

        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return await self._json("POST", f"{self.urls.video}/video", data_factory=form, headers=headers)

    async def videos(self, status: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": "100"}
            params.update({"status": status} if status else {})
            params.update({"cursor": cursor} if cursor else {})
            page = await self._json("GET", f"{self.urls.video}/video", params=params)
            items.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def video(self, video_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", f"{self.urls.video}/video/{video_id}")
        return result

    async def download_link(self, video_id: str) -> dict[str, Any]:
        url = f"{self.urls.video}/video/{video_id}/download"
        result: dict[str, Any] = await self._json("GET", url, params={"redirect": "false"})
        return result

    async def delete(self, video_id: str) -> None:
        await self._json("DELETE", f"{self.urls.video}/video/{video_id}")

    async def notifications(self) -> list[dict[str, Any]]:
        body = await self._json("GET", f"{self.urls.notify}/notifications")
        items = body.get("items", []) if isinstance(body, dict) else body
        return list(items)

    async def webhooks(self) -> list[dict[str, Any]]:
        body = await self._json("GET", f"{self.urls.webhook}/webhooks")
        return list(body.get("items", []))

    async def webhook(self, method: str, path: str = "", body: dict[str, Any] | None = None, **params: str) -> Any:
        """One call on /webhooks[/...]: the JSON answer (None for 204)."""
        kwargs: dict[str, Any] = {"params": params} if params else {}
        if body is not None:
            kwargs["json"] = body
        return await self._json(method, f"{self.urls.webhook}/webhooks{path}", **kwargs)

    async def fetch(self, url: str, target: Path, started: Callable[[int | None, str | None], Progress]) -> Path:
        """Stream a presigned URL (no Authorization: the signature is the credential) into `target`.
        `target` may be a directory: the file is then named as the server suggests."""
        try:
            async with self._http.get(url) as response:
                if response.status >= 400:
                    raise ApiError(response.status, "download_failed", f"storage answered {response.status}")
                suggested = response.content_disposition.filename if response.content_disposition else None
                if await asyncio.to_thread(target.is_dir):
                    target = target / Path(suggested or "frames.zip").name
                progress = started(response.content_length, target.name)
                return await _write_body(response, target, progress)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise ApiError(0, "unreachable", f"cannot download: {exc or exc.__class__.__name__}") from None


async def _write_body(response: aiohttp.ClientResponse, target: Path, progress: Progress) -> Path:
    partial = target.with_name(target.name + ".part")
    received = 0
    with partial.open("wb") as handle:
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            await asyncio.to_thread(handle.write, chunk)
            received += len(chunk)
            progress(received)
    partial.replace(target)
    return target
