"""The HTTP edge: one signed POST of a CloudEvent (structured mode) to an endpoint, bounded in time and in what it
reads back, through the egress policy. Never follows redirects and never reads proxy settings from the
environment. Every outcome is an `AttemptResult`; nothing raises except cancellation."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from prometheus_client import Histogram
from yarl import URL

from contracts.envelope import CONTENT_TYPE
from webhook_svc.egress import AddressPolicy, PinnedResolver, TargetRefused, check_url

USER_AGENT = "framepipe-webhooks/1"
POST_SECONDS = Histogram(
    "webhook_post_seconds",
    "Time of one webhook POST, connect to the end of the (capped) response",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


@dataclass(frozen=True)
class AttemptResult:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response_body: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout: float,
        connect_timeout: float,
        max_response_bytes: int,
        concurrency: int,
    ) -> None:
        self._policy = policy
        self._max_response_bytes = max_response_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=PinnedResolver(self._policy), use_dns_cache=False, limit=self._concurrency, keepalive_timeout=30
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, trust_env=False, headers={"User-Agent": USER_AGENT}
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        assert self._session is not None, "Sender.start() was not awaited"
        started_at, started = datetime.now(UTC), time.perf_counter()
        status: int | None = None
        error: str | None = None
        excerpt = b""
        try:
            target = _target(url)
            self._policy.check_literal(target.raw_host or "")
            async with self._session.post(
                target,
                data=body,
                headers={**headers, "Content-Type": f"{CONTENT_TYPE}; charset=utf-8"},
                allow_redirects=False,
            ) as response:
                status = response.status
                excerpt = await _capped(response, self._max_response_bytes)
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = describe(exc)
        duration = time.perf_counter() - started
        POST_SECONDS.labels("ok" if error is None else "failed").observe(duration)
        return AttemptResult(started_at, round(duration * 1000), status, error, excerpt.decode("utf-8", "replace"))


@functools.lru_cache(maxsize=4096)
def _target(url: str) -> URL:
    """The checked URL, parsed once per endpoint URL rather than once per attempt."""
    return check_url(url)


async def _capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most `limit` bytes of the body; the rest is never read (the connection is closed instead of reused)."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = await response.content.read(remaining)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        remaining -= len(chunk)
    if not response.content.at_eof():
        response.close()
    return b"".join(chunks)


def describe(exc: BaseException) -> str:
    """A short, safe description of why an attempt failed (it is shown to the endpoint's owner)."""
    refused = exc if isinstance(exc, TargetRefused) else getattr(exc, "os_error", None)
    if isinstance(refused, TargetRefused):
        return f"refused: {refused}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, ValueError):
        return f"invalid URL: {exc}"
    return f"{type(exc).__name__}: {exc}"[:300]
