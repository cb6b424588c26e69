"""Headers every service sends (servicekit.http.base_app): no content sniffing, nothing cached that answered a
request with credentials, HTTPS only once reached over it; the page itself stays cacheable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from servicekit.http import HSTS, Problem, base_app
from servicekit.sessions import COOKIE
from webapp.app import create_app as create_webapp
from webapp.settings import Settings as WebappSettings


async def data(_: web.Request) -> web.Response:
    return web.json_response({"yours": "only"}, headers={"Cache-Control": "max-age=3600"})


async def refused(_: web.Request) -> web.Response:
    raise Problem(403, "forbidden", "No.")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    app = base_app("sample")
    app.router.add_get("/data", data)
    app.router.add_get("/refused", refused)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/data", "/refused", "/missing", "/healthz"])
async def test_every_answer_forbids_content_sniffing(client: TestClient[Any, Any], path: str) -> None:
    response = await client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "credentials", [{"Authorization": "Bearer x"}, {"Cookie": f"{COOKIE}=x"}, {"Cookie": f"__Host-{COOKIE}=x"}]
)
async def test_nothing_answered_to_a_request_with_credentials_is_cached(
    client: TestClient[Any, Any], credentials: dict[str, str]
) -> None:
    for path in ("/data", "/refused"):
        response = await client.get(path, headers=credentials)
        assert response.headers["Cache-Control"] == "no-store", path
    anonymous = await client.get("/data")
    assert anonymous.headers["Cache-Control"] == "max-age=3600"  # the handler's own choice stands


async def test_https_is_required_once_reached_over_it(client: TestClient[Any, Any]) -> None:
    assert "Strict-Transport-Security" not in (await client.get("/data")).headers
    over_tls = await client.get("/data", headers={"X-Forwarded-Proto": "https"})
    assert over_tls.headers["Strict-Transport-Security"] == HSTS


async def test_the_page_stays_cacheable_when_the_session_cookie_comes_along() -> None:
    app = create_webapp(WebappSettings(_env_file=None))  # type: ignore[call-arg]
    async with TestClient(TestServer(app)) as page_client:
        for path in ("/app/", "/app/assets/app.js"):
            response = await page_client.get(path, headers={"Cookie": f"{COOKIE}=x"})
            assert response.headers["Cache-Control"] == "no-cache", path
            assert response.headers["X-Content-Type-Options"] == "nosniff"
