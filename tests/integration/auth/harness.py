"""auth_svc as the integration tests run it: the real app (create_app) with a schema of the test's own, and the
calls the auth tests make (register, log in from a given address, sign in with the session cookie, ask video_svc
whether a token still passes)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from auth_svc.app import create_app
from auth_svc.settings import Settings
from tests.integration.video.harness import VideoService
from tests.support.tokens import JwtKeys


def auth_settings(database_url: str, amqp_url: str, keys: JwtKeys, **overrides: Any) -> Settings:
    """Settings for an app of the test's own: a fresh schema, this run's keys, no .env file."""
    values: dict[str, Any] = {
        "http_port": 0,
        "database_url": database_url,
        "db_schema": f"auth_{uuid.uuid4().hex[:10]}",
        "amqp_url": amqp_url,
        "jwt_private_key_file": keys.private_key_file,
        "jwt_public_keys_dir": keys.public_keys_dir,
        "jwt_key_id": keys.key_id,
        "register_max_per_address_hour": 10_000,  # every test registers from this machine's address
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def auth_client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    # No cookie jar: a test that uses the session cookie says which one it sends.
    server = TestServer(create_app(settings), host="127.0.0.1")
    async with TestClient(server, cookie_jar=aiohttp.DummyCookieJar()) as client:
        yield client


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


PASSWORD = "correct horse"


async def register(client: TestClient[Any, Any], email: str, password: str = PASSWORD, **extra: Any) -> Any:
    response = await client.post("/register", json={"email": email, "password": password, **extra})
    assert response.status == 201, await response.text()
    return await response.json()


async def login_from(
    client: TestClient[Any, Any], address: str, email: str, password: str, forwarded_for: str | None = None
) -> aiohttp.ClientResponse:
    """A login whose TCP connection comes from `address` (any 127.x.y.z is this machine's loopback), optionally
    through a proxy that says it forwards for `forwarded_for`."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with aiohttp.ClientSession(connector=connector) as session:
        response = await session.post(
            client.make_url("/login"), json={"email": email, "password": password}, headers=headers
        )
        await response.read()
        return response


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def cookies_of(response: Any) -> dict[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return dict(jar)


async def sign_in(client: TestClient[Any, Any], email: str, **headers: str) -> Any:
    return await client.post("/session", json={"email": email, "password": PASSWORD}, headers=headers or SAME_ORIGIN)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def log_in(auth: TestClient[Any, Any], email: str, password: str = PASSWORD) -> str:
    response = await auth.post("/login", json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    token: str = (await response.json())["access_token"]
    return token


async def code_of(client: TestClient[Any, Any], path: str, headers: dict[str, str]) -> str | int:
    """200, or the problem's code."""
    response = await client.get(path, headers=headers)
    if response.status == 200:
        return 200
    body = await response.json()
    assert response.status == 401, body
    return str(body["code"])


async def refused_by_video(video: VideoService, headers: dict[str, str]) -> bool:
    return await code_of(video.client, "/video", headers) == "token_revoked"
