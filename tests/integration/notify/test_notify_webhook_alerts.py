"""notify_svc tells the owner of a webhook endpoint that was disabled: one e-mail per event, even when the event
arrives twice or before the owner's registration."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import new_envelope
from contracts.envelope import Envelope
from contracts.events import EventData, WebhookEndpointDisabledV1
from notify_svc.settings import Settings
from ops.dev.localinfra import LocalSMTP, MailSink
from servicekit.bus import Publisher
from tests.integration.notify.harness import body, new_user, notify_settings, registered, running_notify
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys


@pytest.fixture
def settings(database_url: str, amqp_url: str, smtp_server: LocalSMTP, jwt_keys: JwtKeys) -> Settings:
    return notify_settings(database_url, amqp_url, smtp_server.port, jwt_keys)


def disabled(owner_id: uuid.UUID, url: str) -> Envelope[EventData]:
    now = datetime.now(UTC)
    data = WebhookEndpointDisabledV1(
        endpoint_id=uuid.uuid4(),
        owner_id=owner_id,
        url=url,
        failing_since=now - timedelta(days=5),
        disabled_at=now,
        reason="Every delivery failed since 2026-11-30 09:00 UTC (last: HTTP 503).",
    )
    return new_envelope(data, source="framepipe/webhook_svc")


async def test_the_owner_is_emailed_once_when_their_endpoint_is_disabled(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    user, email = new_user()
    event = disabled(user, "https://hooks.example.com/<b>framepipe</b>")
    async with running_notify(settings, amqp):
        await publisher.publish(event)  # before the registration: retried until the owner is known
        await asyncio.sleep(0.5)
        await publisher.publish(registered(user, email))
        await eventually(lambda: mail_sink.to(email), timeout=20)
        await publisher.publish(event)  # a second copy
        await asyncio.sleep(1.5)

    [message] = mail_sink.to(email)
    assert str(message["Subject"]) == "Your webhook endpoint was disabled: https://hooks.example.com/<b>framepipe</b>"
    assert message["Message-ID"] == f"<{event.id}@framepipe>"
    text = body(message, "plain")
    assert str(event.data.endpoint_id) in text  # type: ignore[attr-defined]
    assert "HTTP 503" in text
    assert "&lt;b&gt;framepipe&lt;/b&gt;" in body(message, "html")
