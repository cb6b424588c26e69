"""Login throttling behind the proxies we run: the client address comes from X-Forwarded-For only through a trusted
proxy; a guesser is stopped on the account from their address long before the owner is; every success, failure
and lockout is logged, never with the password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient

from tests.integration.auth.harness import PASSWORD, auth_client, auth_settings, login_from, new_email, register
from tests.support.tokens import JwtKeys

PROXY = "127.0.0.1"  # the only trusted proxy here; every other 127.x.y.z is a client of its own


@pytest.fixture(scope="module")
async def client(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    settings = auth_settings(
        database_url,
        amqp_url,
        jwt_keys,
        trusted_proxies=f"{PROXY}/32",
        login_max_failures=3,
        login_account_max_failures=8,
        login_address_max_failures=20,
    )
    async with auth_client(settings) as test_client:
        yield test_client


async def test_behind_a_trusted_proxy_each_forwarded_client_is_throttled_on_its_own(
    client: TestClient[Any, Any],
) -> None:
    owner = new_email()
    await register(client, owner)
    for _ in range(3):  # a guesser behind the proxy
        assert (await login_from(client, PROXY, owner, "guess", forwarded_for="203.0.113.7")).status == 401
    stopped = await login_from(client, PROXY, owner, PASSWORD, forwarded_for="203.0.113.7")
    assert stopped.status == 429
    # The owner comes through the same proxy from elsewhere: not locked out by the guesser.
    assert (await login_from(client, PROXY, owner, PASSWORD, forwarded_for="198.51.100.4")).status == 200


async def test_a_client_cannot_forge_its_way_past_the_trusted_hop(client: TestClient[Any, Any]) -> None:
    owner = new_email()
    await register(client, owner)
    for i in range(3):  # the guesser puts a new address in the header each time; the proxy appends its real one
        forged = f"192.0.2.{i}, 203.0.113.50"
        assert (await login_from(client, PROXY, owner, "guess", forwarded_for=forged)).status == 401
    again = await login_from(client, PROXY, owner, PASSWORD, forwarded_for="192.0.2.99, 203.0.113.50")
    assert again.status == 429


async def test_the_header_of_an_untrusted_peer_is_ignored(client: TestClient[Any, Any]) -> None:
    owner = new_email()
    await register(client, owner)
    for i in range(3):  # not through the proxy: its X-Forwarded-For means nothing
        assert (await login_from(client, "127.0.6.1", owner, "guess", forwarded_for=f"10.9.9.{i}")).status == 401
    assert (await login_from(client, "127.0.6.1", owner, PASSWORD, forwarded_for="10.9.9.200")).status == 429


async def test_many_addresses_guessing_one_account_stop_it_for_everyone_only_at_the_slower_limit(
    client: TestClient[Any, Any],
) -> None:
    owner = new_email()
    await register(client, owner)
    for i in range(7):  # below the account's limit of 8, from seven addresses
        assert (await login_from(client, PROXY, owner, "guess", forwarded_for=f"203.0.114.{i}")).status == 401
    assert (await login_from(client, PROXY, owner, PASSWORD, forwarded_for="198.51.100.9")).status == 200
    for i in range(8):  # the owner's success cleared the count; now eight more
        assert (await login_from(client, PROXY, owner, "guess", forwarded_for=f"203.0.115.{i}")).status == 401
    locked = await login_from(client, PROXY, owner, PASSWORD, forwarded_for="198.51.100.9")
    assert locked.status == 429


async def test_every_login_outcome_is_logged_with_the_address_and_never_the_password(
    client: TestClient[Any, Any],
) -> None:
    owner = new_email()
    await register(client, owner)
    secret_guess = "hunter2-unique-guess"
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            await login_from(client, PROXY, owner, secret_guess, forwarded_for="203.0.116.1")
        await login_from(client, PROXY, owner, PASSWORD, forwarded_for="203.0.116.1")  # throttled
        await login_from(client, PROXY, owner, PASSWORD, forwarded_for="203.0.116.2")  # succeeds
    events = [e for e in logs if e["event"].startswith("login_")]
    assert [e["event"] for e in events] == ["login_failed"] * 3 + ["login_throttled", "login_succeeded"]
    assert {e["client_address"] for e in events} == {"203.0.116.1", "203.0.116.2"}
    assert events[3]["limit"] == "pair"
    assert all(secret_guess not in str(e) and PASSWORD not in str(e) for e in logs)


@pytest.fixture
async def registering(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    settings = auth_settings(
        database_url, amqp_url, jwt_keys, trusted_proxies=f"{PROXY}/32", register_max_per_address_hour=3
    )
    async with auth_client(settings) as test_client:
        yield test_client


async def test_registrations_are_limited_per_client_address_taken_e_mails_included(
    registering: TestClient[Any, Any],
) -> None:
    client = registering

    async def register_from(address: str, email: str) -> Any:
        response = await client.post(
            "/register",
            json={"email": email, "password": PASSWORD},
            headers={"X-Forwarded-For": address},  # through the trusted proxy (this test's client is on 127.0.0.1)
        )
        await response.read()
        return response

    taken = new_email()
    assert (await register_from("203.0.117.1", taken)).status == 201
    assert (await register_from("203.0.117.1", taken)).status == 409  # still an argon2 hash: it counts
    assert (await register_from("203.0.117.1", new_email())).status == 201
    refused = await register_from("203.0.117.1", new_email())
    assert refused.status == 429
    assert (await refused.json())["code"] == "too_many_registrations"
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert (await register_from("203.0.117.2", new_email())).status == 201
