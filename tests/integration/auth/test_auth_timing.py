"""A wrong password and an unknown e-mail must not be told apart by how long the answer takes."""

from __future__ import annotations

import statistics
import time
from typing import Any

from aiohttp.test_utils import TestClient

from tests.integration.auth.harness import auth_client, auth_settings, new_email, register
from tests.support.tokens import JwtKeys

TRIES = 50


async def timed_login(client: TestClient[Any, Any], email: str) -> tuple[float, int, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post("/login", json={"email": email, "password": "not the password"})
    body = await response.json()
    return time.perf_counter() - started, response.status, body


async def test_wrong_password_and_unknown_email_take_the_same_time_within_fifteen_percent(
    database_url: str, amqp_url: str, jwt_keys: JwtKeys
) -> None:
    # Throttles this high never answers 429 here, so both paths do the full work every time.
    settings = auth_settings(
        database_url,
        amqp_url,
        jwt_keys,
        login_max_failures=10_000,
        login_account_max_failures=10_000,
        login_address_max_failures=10_000,
    )
    async with auth_client(settings) as client:
        email = new_email()
        await register(client, email)
        await timed_login(client, email)  # warm-up: pool connections, code paths
        wrong, unknown = [], []
        for _ in range(TRIES):  # interleaved, so load from elsewhere on the machine hits both alike
            elapsed, status, body = await timed_login(client, email)
            assert (status, body["code"]) == (401, "invalid_credentials")
            wrong.append(elapsed)
            elapsed, status, body = await timed_login(client, new_email())
            assert (status, body["code"]) == (401, "invalid_credentials")
            unknown.append(elapsed)
    median_login = statistics.median(wrong + unknown)
    difference = abs(statistics.median(wrong) - statistics.median(unknown))
    assert difference < 0.15 * median_login, (statistics.median(wrong), statistics.median(unknown))
