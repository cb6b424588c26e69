"""The /webhooks API: ownership, every 4xx path with its stable code, SSRF refusals at registration and at
delivery, redirects not followed, capped response bodies, and a schema-driven fuzz that never yields a 5xx."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import schemathesis
from aio_pika.abc import AbstractRobustConnection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode

from servicekit.bus import Publisher
from tests.integration.webhook.harness import TokenFor, processed, running_webhooks, webhook_settings
from tests.support.polling import eventually
from tests.support.receiver import Receiver
from tests.support.tokens import JwtKeys
from webhook_svc.egress import AddressPolicy
from webhook_svc.openapi import SPEC
from webhook_svc.sender import Sender
from webhook_svc.settings import Settings


@pytest.fixture
def settings(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> Settings:
    return webhook_settings(database_url, amqp_url, jwt_keys, webhook_max_endpoints_per_user=3)


@pytest.fixture
def strict(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> Settings:
    """As in production: no network allowed beyond public addresses."""
    return webhook_settings(database_url, amqp_url, jwt_keys, webhook_allowed_networks="")


async def test_endpoints_are_listed_changed_and_deleted_only_by_their_owner(
    settings: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with running_webhooks(settings, amqp, token_for) as hooks:
        created = await hooks.register(alice, "http://127.0.0.1:9/a", "video.processed.v1", "video.failed.v1")
        path = f"/webhooks/{created['id']}"
        listed = await hooks.call("GET", "/webhooks", alice)
        bobs = await hooks.call("GET", "/webhooks", bob)
        as_bob = [
            await hooks.call(m, path, bob, **kw)
            for m, kw in (("GET", {}), ("PATCH", {"json": {"enabled": False}}), ("DELETE", {}))
        ]
        bob_deliveries = await hooks.call("GET", f"{path}/deliveries", bob)
        changed = await hooks.call(
            "PATCH", path, alice, json={"description": "prod", "event_types": ["video.failed.v1"]}
        )
        paused = await hooks.call("PATCH", path, alice, json={"enabled": False})
        deleted = await hooks.call("DELETE", path, alice)
        gone = await hooks.call("GET", path, alice)

    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["video.failed.v1", "video.processed.v1"]
    assert listed[0] == 200
    assert [e["id"] for e in listed[1]["items"]] == [created["id"]]
    assert "secret" not in listed[1]["items"][0]
    assert bobs == (200, {"items": []})
    assert [(status, body["code"]) for status, body in as_bob] == [(404, "webhook_not_found")] * 3
    assert bob_deliveries[0] == 404
    assert changed[0] == 200
    assert (changed[1]["description"], changed[1]["event_types"]) == ("prod", ["video.failed.v1"])
    assert (paused[1]["enabled"], paused[1]["disabled_reason"]) == (False, "disabled by its owner")
    assert deleted == (204, None)
    assert (gone[0], gone[1]["code"]) == (404, "webhook_not_found")


async def test_bad_requests_are_answered_with_a_problem_and_a_stable_code(
    settings: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    url = "http://127.0.0.1:9/hook"
    async with running_webhooks(settings, amqp, token_for) as hooks:
        anonymous = await hooks.client.get("/webhooks")
        anonymous_code = (await anonymous.json())["code"]
        endpoint = await hooks.register(user, url, "video.processed.v1")
        base = f"/webhooks/{endpoint['id']}"
        answers = {
            "unknown type": await hooks.call(
                "POST", "/webhooks", user, json={"url": url, "event_types": ["auth.user.registered.v1"]}
            ),
            "no types": await hooks.call("POST", "/webhooks", user, json={"url": url, "event_types": []}),
            "extra field": await hooks.call(
                "POST", "/webhooks", user, json={"url": url, "event_types": ["video.failed.v1"], "x": 1}
            ),
            "not json": await hooks.call(
                "POST", "/webhooks", user, data=b"{", headers={"Content-Type": "application/json"}
            ),
            "form": await hooks.call("POST", "/webhooks", user, data={"url": url}),
            "empty patch": await hooks.call("PATCH", base, user, json={}),
            "bad id": await hooks.call("GET", "/webhooks/not-a-uuid", user),
            "bad cursor": await hooks.call("GET", f"{base}/deliveries", user, params={"cursor": "bm9wZQ"}),
            "bad status": await hooks.call("GET", f"{base}/deliveries", user, params={"status": "lost"}),
            "bad resend": await hooks.call("POST", f"{base}/deliveries/{uuid.uuid4()}/resend", user),
            "bad replay": await hooks.call("POST", f"{base}/replay", user, json={"since": "yesterday"}),
            "naive replay": await hooks.call("POST", f"{base}/replay", user, json={"since": "2026-01-01T00:00:00"}),
            "backwards replay": await hooks.call(
                "POST", f"{base}/replay", user, json={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
            ),
        }
        for _ in range(2):
            await hooks.register(user, url, "video.processed.v1")
        over_limit = await hooks.call("POST", "/webhooks", user, json={"url": url, "event_types": ["video.failed.v1"]})

    assert anonymous.status == 401
    assert anonymous_code == "missing_token"
    codes = {name: (status, body["code"]) for name, (status, body) in answers.items()}
    assert codes == {
        "unknown type": (422, "validation_error"),
        "no types": (422, "validation_error"),
        "extra field": (422, "validation_error"),
        "not json": (400, "malformed_json"),
        "form": (415, "unsupported_media_type"),
        "empty patch": (422, "validation_error"),
        "bad id": (404, "webhook_not_found"),
        "bad cursor": (400, "invalid_cursor"),
        "bad status": (422, "validation_error"),
        "bad resend": (404, "delivery_not_found"),
        "bad replay": (422, "validation_error"),
        "naive replay": (422, "validation_error"),
        "backwards replay": (422, "validation_error"),
    }
    assert "video.processed.v1" in answers["unknown type"][1]["errors"][0]["message"]
    assert (over_limit[0], over_limit[1]["code"]) == (409, "webhook_limit_reached")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://user:secret@example.com/hook",
        "not a url",
    ],
)
async def test_targets_outside_the_public_internet_are_refused_at_registration(
    url: str, strict: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> None:
    async with running_webhooks(strict, amqp, token_for) as hooks:
        status, body = await hooks.call(
            "POST", "/webhooks", uuid.uuid4(), json={"url": url, "event_types": ["video.failed.v1"]}
        )

    assert (status, body["code"]) == (422, "url_not_allowed")


async def test_a_delivery_to_a_name_that_resolves_to_loopback_is_refused_without_a_connection() -> None:
    async with Receiver() as receiver:
        sender = Sender(AddressPolicy(), timeout=2, connect_timeout=1, max_response_bytes=64, concurrency=4)
        await sender.start()
        try:
            by_name = await sender.post(f"http://localhost:{receiver.port}/hook", b"{}", {})
            by_literal = await sender.post(receiver.url(), b"{}", {})
        finally:
            await sender.close()

    assert str(by_name.error).startswith("refused: localhost resolves to 127.0.0.1")
    assert by_literal.error == "refused: 127.0.0.1 is not a public address"
    assert receiver.requests == []


async def test_redirects_are_not_followed_and_response_bodies_are_capped() -> None:
    async with Receiver(script=[("redirect", "/elsewhere"), ("big", 1_000_000)]) as receiver:
        sender = Sender(
            AddressPolicy.from_setting("127.0.0.0/8"),
            timeout=2,
            connect_timeout=1,
            max_response_bytes=100,
            concurrency=4,
        )
        await sender.start()
        try:
            redirected = await sender.post(receiver.url(), b"{}", {})
            big = await sender.post(receiver.url(), b"{}", {})
        finally:
            await sender.close()

    assert (redirected.status_code, redirected.error, redirected.succeeded) == (302, "HTTP 302", False)
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]
    assert big.succeeded
    assert len(big.response_body) == 100


async def test_a_delivery_is_logged_with_the_start_of_the_answer_and_never_a_whole_one(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    async with Receiver(script=[("big", 100_000)]) as receiver, running_webhooks(settings, amqp, token_for) as hooks:
        endpoint = await hooks.register(user, receiver.url(), "video.processed.v1")
        await publisher.publish(processed(user))
        [entry] = await eventually(lambda: hooks.deliveries(user, endpoint["id"], status="succeeded"), timeout=10)

    assert len(entry["attempt_log"][0]["response_body"]) == settings.webhook_max_response_bytes


def fuzz(base_url: str, token: str, endpoint_id: str) -> set[int]:
    """Positive and negative cases of every operation, with and without a token (in a thread: the schemathesis
    client is synchronous and the app serves from the test's event loop)."""
    schema = schemathesis.openapi.from_dict(SPEC)
    seen: set[int] = set()
    calls: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: Any) -> None:
                calls.append(case)
                if case.path_parameters and "endpoint_id" in case.path_parameters and len(calls) % 2:
                    case.path_parameters["endpoint_id"] = endpoint_id
                headers = {} if len(calls) % 7 == 0 else {"Authorization": f"Bearer {token}"}
                response = case.call(base_url=base_url, headers=headers, timeout=10)
                seen.add(response.status_code)
                assert response.status_code < 500, response.text

            check()
    return seen


async def test_fuzzing_the_api_from_its_openapi_document_never_produces_a_server_error(
    settings: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    async with running_webhooks(settings, amqp, token_for) as hooks:
        served = await (await hooks.client.get("/openapi.json")).json()
        endpoint = await hooks.register(user, "http://127.0.0.1:9/hook", "video.failed.v1")
        token = token_for(user, "fuzz@example.com")
        base_url = str(hooks.client.make_url("/")).rstrip("/")
        seen = await asyncio.to_thread(fuzz, base_url, token, endpoint["id"])

    assert served == SPEC
    assert {200, 401, 404, 422} <= seen
    assert all(status < 500 for status in seen)
