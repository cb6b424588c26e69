"""The web app's server and the one-origin gateway, against real HTTP upstreams: the page under its security
headers, bodies streamed both ways untouched, who-asked headers, replicas taken in turn and skipped when down."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import os
import re
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from ops.dev.localinfra import free_port
from webapp.app import CONTENT_SECURITY_POLICY, create_app
from webapp.settings import Settings


class Upstream:
    """A stand-in service that records what reached it and answers as a test tells it to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[dict[str, Any]] = []
        self.release_stream = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(self.app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        self.seen.append({"path": request.raw_path, "headers": dict(request.headers), "sha256": digest.hexdigest(),
                          "size": size, "method": request.method})  # fmt: skip
        if request.path == "/video/events":
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(b"event: ready\ndata: {}\n\n")
            await self.release_stream.wait()
            await response.write(b"event: video\ndata: {}\n\n")
            return response
        if request.path == "/session":
            response = web.json_response({"by": self.name})
            response.set_cookie("a", "1", httponly=True)
            response.set_cookie("b", "2", httponly=True)
            return response
        if request.path == "/video/1/download":
            raise web.HTTPFound("http://s3.example/zip")
        if request.path == "/video/gzip":
            return web.Response(body=gzip.compress(b"x" * 1000), headers={"Content-Encoding": "gzip"})
        return web.json_response({"by": self.name, "path": request.raw_path})


@contextlib.asynccontextmanager
async def upstreams(*names: str) -> AsyncIterator[list[Upstream]]:
    servers = [Upstream(name) for name in names]
    for server in servers:
        await server.server.start_server()
    try:
        yield servers
    finally:
        for server in servers:
            server.release_stream.set()
            await server.server.close()


@contextlib.asynccontextmanager
async def gateway(**upstream: str) -> AsyncIterator[TestClient[Any, Any]]:
    settings = Settings(_env_file=None, log_format="console", **{f"upstream_{k}": v for k, v in upstream.items()})  # type: ignore[call-arg]
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server, cookie_jar=aiohttp.DummyCookieJar()) as client:
        yield client


async def test_the_page_is_served_under_a_strict_policy_at_every_view() -> None:
    async with gateway() as client:
        root = await client.get("/", allow_redirects=False)
        assert (root.status, root.headers["Location"]) == (302, "/app/")
        for path in ("/app/", "/app/videos/8d0e6f52-2b1c-4a7e-8f3d-5e6a7b8c9d0e"):
            page = await client.get(path)
            assert page.status == 200
            assert page.content_type == "text/html"
            assert '<script type="module" src="/app/assets/app.js">' in await page.text()
            assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert page.headers["X-Frame-Options"] == "DENY"
            assert "Strict-Transport-Security" not in page.headers  # plain HTTP
        script = await client.get("/app/assets/app.js")
        assert script.status == 200
        assert script.content_type in ("text/javascript", "application/javascript")
        assert script.headers["Cache-Control"] == "no-cache"
        assert (await client.get("/app/assets/missing.js")).status == 404
        for escape in ("/app/assets/../app.py", "/app/assets/%2e%2e/app.py", "/app/assets/..%2fapp.py"):
            assert "create_app" not in await (await client.get(escape)).text(), escape
        secure = await client.get("/app/", headers={"X-Forwarded-Proto": "https"})
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_the_page_has_nothing_inline_and_no_other_origin() -> None:
    async with gateway() as client:
        html = await (await client.get("/app/")).text()
    assert "style=" not in html
    assert "<style" not in html
    assert re.search(r"\son[a-z]+\s*=", html) is None  # no inline event handlers (onclick=…)
    assert "http://" not in html
    assert "https://" not in html


async def test_requests_go_to_the_service_that_owns_the_path_untouched() -> None:
    async with (
        upstreams("auth", "video", "notify") as (auth, video, notify),
        gateway(auth=auth.url, video=video.url, notify=notify.url) as client,
    ):
        for path, owner in [("/login", auth), ("/.well-known/jwks.json", auth), ("/session/refresh", auth),
                            ("/openapi/auth.json", auth), ("/video?limit=2&cursor=a%2Fb", video),
                            ("/video/abc/previews/1", video), ("/notifications?limit=1", notify),
                            ("/openapi/notify.json", notify)]:  # fmt: skip
            # encoded=True: sent exactly as written, as a browser sends an href
            response = await client.session.get(URL(f"http://127.0.0.1:{client.server.port}{path}", encoded=True))
            assert response.status == 200, path
            assert await response.json() == {"by": owner.name, "path": path}
        for path in ("/videos", "/metrics-anything", "/session-x"):
            assert (await client.get(path)).status == 404, path


async def test_uploads_stream_through_byte_for_byte_with_who_asked() -> None:
    body = os.urandom(12 * 1024 * 1024)
    async with upstreams("video") as (video,), gateway(video=video.url) as client:
        response = await client.post(
            "/video", data=body, headers={"Content-Type": "application/octet-stream", "X-Forwarded-For": "203.0.113.9"}
        )
        assert response.status == 200
        seen = video.seen[-1]
        host = f"127.0.0.1:{client.server.port}"
    assert seen["size"] == len(body)
    assert seen["sha256"] == hashlib.sha256(body).hexdigest()
    headers = seen["headers"]
    assert headers["Host"] == host  # the services compare Origin with the Host the browser used
    assert headers["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == host
    assert headers["X-Request-ID"] == response.headers["X-Request-ID"]


async def test_an_event_stream_is_relayed_as_it_happens() -> None:
    async with upstreams("video") as (video,), gateway(video=video.url) as client:
        response = await client.get("/video/events")
        assert response.headers["Content-Type"] == "text/event-stream"
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        assert first == b"event: ready\ndata: {}\n\n"  # while the upstream still holds the stream open
        video.release_stream.set()
        assert await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5) == b"event: video\ndata: {}\n\n"


async def test_responses_pass_unchanged_redirects_cookies_and_encodings() -> None:
    async with upstreams("auth", "video") as (auth, video), gateway(auth=auth.url, video=video.url) as client:
        redirect = await client.get("/video/1/download", allow_redirects=False)
        assert (redirect.status, redirect.headers["Location"]) == (302, "http://s3.example/zip")
        session = await client.post("/session", json={})
        assert len(session.headers.getall("Set-Cookie")) == 2
        raw = await client.get("/video/gzip", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        assert raw.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(await raw.read()) == b"x" * 1000


async def test_replicas_are_taken_in_turn_and_one_that_is_down_is_skipped() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    async with upstreams("video-1", "video-2") as (one, two), gateway(video=f"{one.url},{down},{two.url}") as client:
        answers = [(await (await client.get("/video")).json())["by"] for _ in range(6)]
        assert set(answers) == {"video-1", "video-2"}  # and never a 502 from the one that is down
        upload = await client.post("/video", data=b"abc", headers={"Content-Type": "application/octet-stream"})
        assert upload.status == 200


@contextlib.asynccontextmanager
async def resetting_upstream() -> AsyncIterator[str]:
    """A replica that reads a request and resets the connection (RST), as one stopped mid-request may."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_replica_resetting_connections_is_skipped_by_reads_and_a_problem_for_writes() -> None:
    async with (
        resetting_upstream() as broken,
        upstreams("video-1") as (one,),
        gateway(video=f"{broken},{one.url}") as client,
    ):
        reads = [(await client.get("/video")).status for _ in range(4)]
        writes = [
            (await client.post("/video", data=b"abc", headers={"Content-Type": "application/octet-stream"})).status
            for _ in range(4)
        ]
    assert reads == [200] * 4  # resent to the other replica: a GET without a body is safe to send again
    assert set(writes) == {200, 502}  # never resent (the body is gone), and never a 500


async def test_with_every_replica_down_the_answer_is_a_problem_not_a_hang() -> None:
    async with gateway(video=f"http://127.0.0.1:{free_port()}") as client:
        response = await client.get("/video")
        assert response.status == 502
        assert response.headers["Retry-After"] == "2"
        assert (await response.json())["code"] == "bad_gateway"


@pytest.mark.parametrize("path", ["/register", "/me", "/video", "/notifications"])
async def test_without_upstreams_only_the_page_is_served(path: str) -> None:
    async with gateway() as client:
        assert (await client.get(path)).status == 404
