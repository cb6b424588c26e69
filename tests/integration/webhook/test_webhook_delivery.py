"""webhook_svc against real RabbitMQ, PostgreSQL and a real local receiver: signed CloudEvents, retries after 500s
and timeouts, giving up with an event, disabling an endpoint that keeps failing, resend and replay, and exactly one
accepted delivery per event id at a receiver that deduplicates on webhook-id."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.envelope import CONTENT_TYPE, decode
from servicekit.bus import Publisher
from tests.integration.webhook.harness import (
    TokenFor,
    failed,
    now,
    processed,
    progress,
    running_webhooks,
    webhook_settings,
)
from tests.support.broker import temp_queue
from tests.support.polling import eventually
from tests.support.receiver import Receiver
from tests.support.tokens import JwtKeys
from webhook_svc.settings import Settings
from webhook_svc.signing import verify


@pytest.fixture
def settings(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> Settings:
    return webhook_settings(database_url, amqp_url, jwt_keys)


async def test_a_subscribed_event_arrives_once_as_a_signed_cloudevent_and_is_logged(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with Receiver() as receiver, running_webhooks(settings, amqp, token_for) as hooks:
        endpoint = await hooks.register(alice, receiver.url(), "video.processed.v1")
        mine, not_subscribed, not_mine = processed(alice), failed(alice), processed(bob)
        for envelope in (not_subscribed, not_mine, mine):
            await publisher.publish(envelope)
        await eventually(lambda: receiver.requests, timeout=10)
        await asyncio.sleep(0.5)  # time for anything that should not arrive
        log = await eventually(lambda: _succeeded(hooks, alice, endpoint["id"]), timeout=5)

    [request] = receiver.requests
    assert request.headers["content-type"].startswith(CONTENT_TYPE)
    assert request.headers["webhook-id"] == str(mine.id)
    assert verify(endpoint["secret"], request.headers, request.body)
    assert not verify(endpoint["secret"], request.headers, request.body + b" ")
    delivered = decode(request.body)
    assert (delivered.id, delivered.type, delivered.data) == (mine.id, "video.processed.v1", mine.data)
    assert json.loads(request.body)["specversion"] == "1.0"
    [entry] = log
    assert (entry["event_id"], entry["status"], entry["attempts"]) == (str(mine.id), "succeeded", 1)
    assert entry["attempt_log"][0]["status_code"] == 204


async def _succeeded(hooks: object, user: uuid.UUID, endpoint_id: str) -> list[dict[str, object]] | None:
    items = await hooks.deliveries(user, endpoint_id, limit=100)  # type: ignore[attr-defined]
    return items if items and all(i["status"] == "succeeded" for i in items) else None


async def test_a_delivery_is_retried_after_500s_and_a_timeout_with_the_same_webhook_id(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    async with (
        Receiver(script=[500, ("hang", 3), 503]) as receiver,
        running_webhooks(settings, amqp, token_for) as hooks,
    ):
        endpoint = await hooks.register(user, receiver.url(), "video.processed.v1")
        event = processed(user)
        await publisher.publish(event)
        [entry] = await eventually(lambda: _succeeded(hooks, user, endpoint["id"]), timeout=15)

    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event.id)] * 4
    assert all(verify(endpoint["secret"], r.headers, r.body) for r in receiver.requests)
    assert len({r.body for r in receiver.requests}) == 1
    attempts = entry["attempt_log"]
    assert [a["status_code"] for a in attempts] == [500, None, 503, 204]
    assert attempts[1]["error"] == "timed out"
    assert entry["attempts"] == 4
    assert list(receiver.accepted) == [str(event.id)]


async def test_a_delivery_gives_up_after_its_schedule_and_an_event_says_so(
    database_url: str,
    amqp_url: str,
    jwt_keys: JwtKeys,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    token_for: TokenFor,
) -> None:
    settings = webhook_settings(database_url, amqp_url, jwt_keys, webhook_retry_schedule_seconds="0.2,0.2")
    user = uuid.uuid4()
    async with (
        Receiver(default=503) as receiver,
        running_webhooks(settings, amqp, token_for) as hooks,
        amqp.channel() as channel,
    ):
        watch = await temp_queue(channel, "webhook.delivery.failed.v1")
        endpoint = await hooks.register(user, receiver.url(), "video.failed.v1")
        event = failed(user)
        await publisher.publish(event)
        message = await eventually(lambda: watch.get(fail=False, no_ack=True), timeout=15)
        [entry] = await hooks.deliveries(user, endpoint["id"])

    gave_up = decode(message.body)
    assert gave_up.type == "webhook.delivery.failed.v1"
    assert gave_up.data.event_id == event.id  # type: ignore[attr-defined]
    assert gave_up.data.attempts == 3  # type: ignore[attr-defined]
    assert gave_up.data.last_error == "HTTP 503"  # type: ignore[attr-defined]
    assert gave_up.causationid == str(event.id)
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 3, 503)
    assert len(receiver.requests) == 3


async def test_an_endpoint_failing_for_too_long_is_disabled_with_an_event_and_can_be_enabled_again(
    database_url: str,
    amqp_url: str,
    jwt_keys: JwtKeys,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    token_for: TokenFor,
) -> None:
    settings = webhook_settings(
        database_url,
        amqp_url,
        jwt_keys,
        webhook_retry_schedule_seconds="0.4,0.4,0.4,0.4",
        webhook_disable_after_hours=0.5 / 3600,
    )
    user = uuid.uuid4()
    async with (
        Receiver(default=500) as receiver,
        running_webhooks(settings, amqp, token_for) as hooks,
        amqp.channel() as channel,
    ):
        watch = await temp_queue(channel, "webhook.endpoint.disabled.v1")
        endpoint = await hooks.register(user, receiver.url(), "video.processed.v1")
        await publisher.publish(processed(user))
        message = await eventually(lambda: watch.get(fail=False, no_ack=True), timeout=15)
        _, disabled = await hooks.call("GET", f"/webhooks/{endpoint['id']}", user)
        [entry] = await hooks.deliveries(user, endpoint["id"])
        seen = len(receiver.requests)
        await publisher.publish(processed(user))
        await asyncio.sleep(1)
        while_disabled = len(receiver.requests)
        refused, problem = await hooks.call(
            "POST", f"/webhooks/{endpoint['id']}/replay", user, json={"since": (now() - timedelta(hours=1)).isoformat()}
        )
        receiver.default = 204
        enabled_status, enabled = await hooks.call("PATCH", f"/webhooks/{endpoint['id']}", user, json={"enabled": True})
        replayed_status, replayed = await hooks.call(
            "POST", f"/webhooks/{endpoint['id']}/replay", user, json={"since": (now() - timedelta(hours=1)).isoformat()}
        )
        await eventually(lambda: len(receiver.accepted) == 2, timeout=10)

    event = decode(message.body)
    assert event.data.endpoint_id == uuid.UUID(endpoint["id"])  # type: ignore[attr-defined]
    assert event.data.owner_id == user  # type: ignore[attr-defined]
    assert "Every delivery failed since" in event.data.reason  # type: ignore[attr-defined]
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == event.data.reason  # type: ignore[attr-defined]
    assert entry["status"] == "failed"
    assert "endpoint disabled" in entry["last_error"]
    assert while_disabled == seen  # nothing is sent to a disabled endpoint
    assert (refused, problem["code"]) == (409, "webhook_disabled")
    assert enabled_status == 200
    assert (enabled["enabled"], enabled["failing_since"], enabled["disabled_at"]) == (True, None, None)
    assert (replayed_status, replayed) == (202, {"queued": 2})


async def test_every_event_is_accepted_exactly_once_by_a_receiver_that_dedupes_on_webhook_id(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    async with (
        Receiver(failure_rate=0.3) as receiver,
        running_webhooks(settings, amqp, token_for) as hooks,
    ):
        endpoint = await hooks.register(user, receiver.url(), "video.processed.v1", "video.processing.progress.v1")
        events = [processed(user) if i % 2 else progress(user) for i in range(40)]
        for envelope in events:
            await publisher.publish(envelope)
        for envelope in events[:10]:  # the broker delivering some events twice
            await publisher.publish(envelope)
        await eventually(lambda: len(receiver.accepted) == len(events), timeout=30)
        log = await eventually(lambda: _succeeded(hooks, user, endpoint["id"]), timeout=10)
        resent = log[0]
        await hooks.call("POST", f"/webhooks/{endpoint['id']}/deliveries/{resent['id']}/resend", user)
        await eventually(lambda: len(receiver.with_id(resent["event_id"])) > resent["attempts"], timeout=10)

    assert sorted(receiver.accepted) == sorted(str(e.id) for e in events)
    assert len(log) == len(events)
    assert any(len(receiver.with_id(str(e.id))) > 1 for e in events)  # some were retried ...
    assert all(verify(endpoint["secret"], r.headers, r.body) for r in receiver.requests)
    assert len(receiver.accepted) == len(events)  # ... and the resend is still one accepted event per id


async def test_replay_since_a_time_sends_the_endpoints_events_again_and_only_undelivered_skips_received_ones(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    async with Receiver() as receiver, running_webhooks(settings, amqp, token_for) as hooks:
        before = [processed(user) for _ in range(2)]
        for envelope in before:  # published before the endpoint exists: kept, not delivered
            await publisher.publish(envelope)
        await asyncio.sleep(1)
        endpoint = await hooks.register(user, receiver.url(), "video.processed.v1")
        since = (now() - timedelta(minutes=5)).isoformat()
        path = f"/webhooks/{endpoint['id']}/replay"
        first = await hooks.call("POST", path, user, json={"since": since, "only_undelivered": True})
        await eventually(lambda: len(receiver.accepted) == 2, timeout=10)
        await eventually(lambda: _succeeded(hooks, user, endpoint["id"]), timeout=5)
        again = await hooks.call("POST", path, user, json={"since": since, "only_undelivered": True})
        everything = await hooks.call("POST", path, user, json={"since": since})
        await eventually(lambda: len(receiver.requests) == 4, timeout=10)
        future = await hooks.call("POST", path, user, json={"since": (now() + timedelta(hours=1)).isoformat()})

    assert first == (202, {"queued": 2})
    assert again == (202, {"queued": 0})
    assert everything == (202, {"queued": 2})
    assert future == (202, {"queued": 0})
    assert sorted(receiver.accepted) == sorted(str(e.id) for e in before)


async def test_after_a_rotation_deliveries_carry_signatures_of_the_new_and_the_previous_secret(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor
) -> None:
    user = uuid.uuid4()
    async with Receiver() as receiver, running_webhooks(settings, amqp, token_for) as hooks:
        endpoint = await hooks.register(user, receiver.url(), "video.processed.v1")
        status, rotated = await hooks.call("POST", f"/webhooks/{endpoint['id']}/rotate-secret", user)
        await publisher.publish(processed(user))
        await eventually(lambda: receiver.requests, timeout=10)

    [request] = receiver.requests
    assert status == 200
    assert rotated["secret"] != endpoint["secret"]
    assert rotated["previous_secret_expires_at"] is not None
    assert len(request.headers["webhook-signature"].split()) == 2
    assert verify(rotated["secret"], request.headers, request.body)
    assert verify(endpoint["secret"], request.headers, request.body)
