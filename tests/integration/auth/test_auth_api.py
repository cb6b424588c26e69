"""auth_svc through HTTP against real PostgreSQL and RabbitMQ: register, login, /me, JWKS, bad input,
throttling, and the registration event reaching a consumer exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection
from aiohttp.test_utils import TestClient
from jose import jwk, jwt

from contracts import UserRegisteredV1
from contracts.topology import QueueSpec
from servicekit.bus import Consumer, MessageContext, Publisher, declare_queue
from servicekit.runtime import POOL
from tests.integration.auth.harness import PASSWORD, auth_client, auth_settings, login_from, new_email, register
from tests.support.broker import depth, temp_queue
from tests.support.database import SchemaPool
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys


@pytest.fixture(scope="module")
async def client(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    settings = auth_settings(
        database_url,
        amqp_url,
        jwt_keys,
        login_max_failures=3,
        login_account_max_failures=3,
        login_address_max_failures=3,
    )
    async with auth_client(settings) as test_client:
        yield test_client


async def test_register_then_login_then_me_returns_the_user_and_the_token_verifies_with_the_jwks(
    client: TestClient[Any, Any], jwt_keys: JwtKeys
) -> None:
    email = new_email()
    created = await register(client, f"  {email.upper()} ", name="Ada")
    assert created["email"] == email
    assert created["name"] == "Ada"

    response = await client.post("/login", json={"email": email.upper(), "password": "correct horse"})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = await response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600

    me = await client.get("/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status == 200
    assert await me.json() == created

    keys = await (await client.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token["access_token"])["kid"]
    assert kid == jwt_keys.key_id
    public = next(k for k in keys["keys"] if k["kid"] == kid)
    claims = jwt.decode(
        token["access_token"],
        jwk.construct(public),
        algorithms=["RS256"],
        audience="framepipe",
        issuer="framepipe-auth",
    )
    assert claims["sub"] == created["id"]
    assert claims["email"] == email
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"]


async def test_the_same_email_in_another_letter_case_is_taken(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    response = await client.post("/register", json={"email": email.upper(), "password": "another password"})
    assert response.status == 409
    assert response.content_type == "application/problem+json"
    assert (await response.json())["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "long enough"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "not-an-email", "password": "long enough"}, "email"),
        ({"email": "a@@example.com", "password": "long enough"}, "email"),
        ({"email": "a@localhost", "password": "long enough"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 1025}, "password"),
        ({"email": "a" * 300 + "@example.com", "password": "long enough"}, "email"),
        ({"email": "a@example.com", "password": "long enough", "name": "n" * 201}, "name"),
        ({"email": 42, "password": "long enough"}, "email"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"email": "a@example.com", "password": ["long enough"]}, "password"),
        ({"email": "a@example.com", "password": "long enough", "name": 7}, "name"),
        ({"email": "a@example.com", "password": "long enough", "admin": True}, "admin"),
    ],
)
async def test_invalid_registrations_are_422_naming_the_field(
    client: TestClient[Any, Any], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/register", json=body)
    assert response.status == 422
    problem = await response.json()
    assert problem["code"] == "validation_error"
    assert field in [e["field"].split(".")[0] for e in problem["errors"]]


@pytest.mark.parametrize("path", ["/register", "/login"])
async def test_malformed_json_wrong_content_type_and_non_object_bodies_are_4xx(
    client: TestClient[Any, Any], path: str
) -> None:
    malformed = await client.post(path, data=b'{"email": ', headers={"Content-Type": "application/json"})
    assert (malformed.status, (await malformed.json())["code"]) == (400, "malformed_json")
    form = await client.post(path, data={"email": "a@example.com", "password": "long enough"})
    assert (form.status, (await form.json())["code"]) == (415, "unsupported_media_type")
    listed = await client.post(path, json=["a@example.com", "long enough"])
    assert listed.status == 422
    huge = await client.post(path, json={"email": "a@example.com", "password": "x" * (2 * 1024**2)})
    assert huge.status == 413
    assert huge.content_type == "application/problem+json"


async def test_wrong_password_and_unknown_email_get_the_same_status_and_body(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    wrong = await login_from(client, "127.0.0.11", email, "wrong password")
    unknown = await login_from(client, "127.0.0.12", new_email(), "wrong password")
    assert wrong.status == unknown.status == 401
    bodies = [await r.json() for r in (wrong, unknown)]
    for body in bodies:
        assert body.pop("request_id")
    assert bodies[0] == bodies[1]
    assert bodies[0]["code"] == "invalid_credentials"


async def test_after_the_allowed_failures_the_account_is_throttled_from_any_address_but_others_still_log_in(
    client: TestClient[Any, Any],
) -> None:
    victim, bystander = new_email(), new_email()
    await register(client, victim)
    await register(client, bystander)
    for i in range(3):  # login_max_failures=3, each from another address
        assert (await login_from(client, f"127.0.1.{i + 1}", victim, "guess")).status == 401
    blocked = await login_from(client, "127.0.1.9", victim, "correct horse")
    assert blocked.status == 429
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= 900
    assert (await blocked.json())["code"] == "too_many_attempts"
    assert (await login_from(client, "127.0.1.9", bystander, "correct horse")).status == 200


async def test_after_the_allowed_failures_the_address_is_throttled_for_every_account(
    client: TestClient[Any, Any],
) -> None:
    user, neighbour = new_email(), new_email()
    await register(client, user)
    for _ in range(3):
        assert (await login_from(client, "127.0.2.1", new_email(), "guess")).status == 401
    from_attacker = await login_from(client, "127.0.2.1", user, "correct horse")
    assert from_attacker.status == 429
    assert int(from_attacker.headers["Retry-After"]) >= 1
    assert (await login_from(client, "127.0.2.2", user, "correct horse")).status == 200
    assert (await login_from(client, "127.0.2.3", neighbour, "x")).status == 401


async def test_parallel_guesses_at_one_account_cannot_get_past_the_limit(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    guesses = [login_from(client, f"127.0.4.{i + 1}", email, f"guess {i}") for i in range(10)]
    statuses = sorted(r.status for r in await asyncio.gather(*guesses))
    assert statuses == [401] * 3 + [429] * 7


async def test_people_behind_one_address_can_log_in_at_the_same_time(client: TestClient[Any, Any]) -> None:
    emails = [new_email() for _ in range(6)]
    for email in emails:
        await register(client, email)
    logins = [login_from(client, "127.0.5.1", email, PASSWORD) for email in emails]
    assert [r.status for r in await asyncio.gather(*logins)] == [200] * 6


async def test_a_successful_login_clears_the_accounts_failures(client: TestClient[Any, Any]) -> None:
    email = new_email()
    await register(client, email)
    for i in range(2):
        assert (await login_from(client, f"127.0.3.{i + 1}", email, "guess")).status == 401
    assert (await login_from(client, "127.0.3.5", email, "correct horse")).status == 200
    for i in range(2):
        assert (await login_from(client, f"127.0.3.{i + 10}", email, "guess")).status == 401
    assert (await login_from(client, "127.0.3.20", email, "correct horse")).status == 200


async def test_me_without_a_token_is_401_with_a_bearer_challenge(client: TestClient[Any, Any]) -> None:
    response = await client.get("/me")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["code"] == "missing_token"


async def test_a_valid_token_for_a_user_that_does_not_exist_here_is_401(
    client: TestClient[Any, Any], token_for: Any
) -> None:
    response = await client.get("/me", headers={"Authorization": f"Bearer {token_for(uuid.uuid4(), 'x@example.com')}"})
    assert response.status == 401
    assert (await response.json())["code"] == "invalid_token"


async def test_a_password_hashed_with_older_costs_is_rehashed_on_login(
    database_url: str, amqp_url: str, jwt_keys: JwtKeys
) -> None:
    settings = auth_settings(database_url, amqp_url, jwt_keys)
    email = new_email()
    async with auth_client(settings) as old_costs:
        await register(old_costs, email)
    stronger = settings.model_copy(update={"argon2_time_cost": 3})
    async with auth_client(stronger) as new_costs:
        assert (await new_costs.post("/login", json={"email": email, "password": "correct horse"})).status == 200
        async with new_costs.app[POOL].acquire() as conn:
            stored = await conn.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
        assert ",t=3," in stored
        assert (await new_costs.post("/login", json={"email": email, "password": "correct horse"})).status == 200


async def test_readyz_reports_database_and_broker(client: TestClient[Any, Any]) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"] == {"database": "ok", "broker": "ok"}


async def record_registration(event: UserRegisteredV1, ctx: MessageContext) -> None:
    await ctx.db.execute("INSERT INTO effects (event_id) VALUES ($1)", ctx.envelope.id)


async def test_the_registration_event_reaches_a_consumer_exactly_once_even_when_the_relay_publishes_it_twice(
    client: TestClient[Any, Any], amqp: AbstractRobustConnection, publisher: Publisher, schema_pool: SchemaPool
) -> None:
    spec = QueueSpec(name=f"test.auth.{uuid.uuid4().hex[:6]}", owner="tests", binds=(UserRegisteredV1.event_type,))
    handlers = {UserRegisteredV1.event_type: record_registration}
    consumer = Consumer(amqp, spec, handlers, publisher, service="tests", pool=schema_pool.pool)
    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
        wiretap = await temp_queue(channel, UserRegisteredV1.event_type)
        await consumer.start()
        try:
            created = await register(client, new_email(), name="Grace")
            event_id = await eventually(lambda: _sent_event_of(client, created["id"]))
            await eventually(lambda: _effects_of(schema_pool, event_id))
            async with client.app[POOL].acquire() as conn:  # as if the relay died before marking the row sent
                await conn.execute("UPDATE outbox SET sent_at = NULL WHERE event_id = $1", event_id)
            seen: list[str] = []
            await eventually(lambda: _copies_seen(wiretap, seen, str(event_id), 2), timeout=15)
            await eventually(lambda: _drained(amqp, spec.name))
            await asyncio.sleep(0.3)
        finally:
            await consumer.stop()
    assert await _effects_of(schema_pool, event_id) == 1
    async with schema_pool.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1


async def _sent_event_of(client: TestClient[Any, Any], user_id: str) -> uuid.UUID | None:
    async with client.app[POOL].acquire() as conn:
        event_id: uuid.UUID | None = await conn.fetchval(
            "SELECT event_id FROM outbox WHERE sent_at IS NOT NULL "
            "AND convert_from(body, 'UTF8')::jsonb -> 'data' ->> 'user_id' = $1",
            user_id,
        )
        return event_id


async def _effects_of(db: SchemaPool, event_id: uuid.UUID) -> int:
    async with db.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event_id))


async def _copies_seen(queue: Any, seen: list[str], message_id: str, expected: int) -> bool:
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        seen.append(message.message_id)
    return seen.count(message_id) >= expected


async def _drained(amqp: AbstractRobustConnection, queue: str) -> bool:
    return await depth(amqp, queue) == 0
