"""Browser sessions on auth_svc: sign-in answers with an HttpOnly, SameSite=Strict cookie (Secure and
`__Host-`-prefixed over HTTPS) and never puts the token in the body; the cookie authenticates, refreshes within the
session's lifetime, and sign-out clears it; sign-in and changes must come from our own origin."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jose import jwt

from servicekit.sessions import COOKIE, SECURE_COOKIE
from tests.integration.auth.harness import (
    PASSWORD,
    SAME_ORIGIN,
    auth_client,
    auth_settings,
    cookies_of,
    new_email,
    register,
    sign_in,
)
from tests.support.tokens import JwtKeys


@pytest.fixture(scope="module")
async def client(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    settings = auth_settings(database_url, amqp_url, jwt_keys, session_max_seconds=60)
    async with auth_client(settings) as test_client:
        yield test_client


async def test_sign_in_sets_an_http_only_strict_cookie_and_keeps_the_token_out_of_the_body(
    client: TestClient[Any, Any],
) -> None:
    email = new_email()
    user = await register(client, email)
    response = await sign_in(client, email)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["user"] == user
    assert body["expires_in"] == 3600
    assert "access_token" not in body
    assert "token" not in str(body).lower()
    cookie = cookies_of(response)[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == "3600"
    assert not cookie["secure"]  # plain HTTP here: a Secure cookie would never come back

    me = await client.get("/me", headers={"Cookie": f"{COOKIE}={cookie.value}"})
    assert me.status == 200
    assert (await me.json())["email"] == email
    session = await client.get("/session", headers={"Cookie": f"{COOKIE}={cookie.value}"})
    assert (await session.json())["user"]["id"] == user["id"]


async def test_behind_a_tls_proxy_the_cookie_is_secure_and_host_prefixed(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    response = await sign_in(client, email, **SAME_ORIGIN, **{"X-Forwarded-Proto": "https"})
    cookies = cookies_of(response)
    assert cookies[SECURE_COOKIE]["secure"] is True
    assert cookies[SECURE_COOKIE]["httponly"] is True
    me = await client.get("/me", headers={"Cookie": f"{SECURE_COOKIE}={cookies[SECURE_COOKIE].value}"})
    assert me.status == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"}],
)
async def test_sign_in_from_another_origin_is_refused(client: TestClient[Any, Any], headers: dict[str, str]) -> None:
    email = new_email()
    await register(client, email)
    response = await client.post("/session", json={"email": email, "password": PASSWORD}, headers=headers)
    assert response.status == 403
    assert (await response.json())["code"] == "cross_origin_request"
    assert "Set-Cookie" not in response.headers


async def test_sign_in_with_the_origin_of_the_page_is_accepted(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    host = client.make_url("/").host, client.make_url("/").port
    response = await sign_in(client, email, Origin=f"http://{host[0]}:{host[1]}")
    assert response.status == 200


async def test_a_wrong_password_sets_no_cookie(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    response = await client.post("/session", json={"email": email, "password": "wrong!"}, headers=SAME_ORIGIN)
    assert response.status == 401
    assert (await response.json())["code"] == "invalid_credentials"
    assert "Set-Cookie" not in response.headers


async def test_refresh_issues_a_new_cookie_that_keeps_the_sign_in_time(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    first = cookies_of(await sign_in(client, email))[COOKIE].value
    cookie = {"Cookie": f"{COOKIE}={first}"}
    assert (await client.post("/session/refresh", headers=cookie)).status == 403  # not from our page
    refreshed = await client.post("/session/refresh", headers={**cookie, **SAME_ORIGIN})
    assert refreshed.status == 200
    second = cookies_of(refreshed)[COOKIE].value
    assert second != first
    first_claims, second_claims = jwt.get_unverified_claims(first), jwt.get_unverified_claims(second)
    assert second_claims["auth_time"] == first_claims["auth_time"]  # the password's time, not the refresh's
    assert second_claims["exp"] >= first_claims["exp"]
    assert (await client.get("/me", headers={"Cookie": f"{COOKIE}={second}"})).status == 200


async def test_a_session_older_than_its_maximum_cannot_be_refreshed(
    client: TestClient[Any, Any], token_for: Callable[..., str]
) -> None:
    email = new_email()
    user = await register(client, email)
    stale = token_for(uuid.UUID(user["id"]), email, int(time.time()) - 61)  # the maximum here is 60
    response = await client.post("/session/refresh", headers={"Cookie": f"{COOKIE}={stale}", **SAME_ORIGIN})
    assert response.status == 401
    assert (await response.json())["code"] == "session_expired"


async def test_sign_out_clears_the_cookie(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    token = cookies_of(await sign_in(client, email))[COOKIE].value
    response = await client.delete("/session", headers={"Cookie": f"{COOKIE}={token}", **SAME_ORIGIN})
    assert response.status == 204
    cleared = cookies_of(response)
    assert cleared[COOKIE].value == ""
    assert cleared[COOKIE]["max-age"] == "0"
    assert (await client.get("/session")).status == 401
    # A copy of the cookie kept from before sign-out no longer works.
    kept = await client.get("/session", headers={"Cookie": f"{COOKIE}={token}"})
    assert kept.status == 401
    assert (await kept.json())["code"] == "token_revoked"


async def test_programs_keep_using_bearer_tokens_and_a_bearer_needs_no_origin(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    login = await client.post("/login", json={"email": email, "password": PASSWORD})
    token = (await login.json())["access_token"]
    assert "Set-Cookie" not in login.headers
    response = await client.post("/session/refresh", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
