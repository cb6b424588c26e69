"""GET /notifications: the caller's own notification log, newest first, paginated; and a schema-driven fuzz
of the HTTP API that must never produce a 5xx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from aio_pika.abc import AbstractRobustConnection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode

from contracts.events import FailureCode
from notify_svc.openapi import SPEC
from notify_svc.settings import Settings
from ops.dev.localinfra import LocalSMTP, MailSink
from servicekit.bus import Publisher
from tests.integration.notify.harness import (
    Notify,
    failed,
    has_status,
    new_user,
    notify_settings,
    processed,
    recipient_known,
    registered,
    running_notify,
)
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys

TokenFor = Callable[[uuid.UUID, str], str]


@pytest.fixture
def settings(database_url: str, amqp_url: str, smtp_server: LocalSMTP, jwt_keys: JwtKeys) -> Settings:
    return notify_settings(database_url, amqp_url, smtp_server.port, jwt_keys)


async def list_page(notify: Notify, token: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = await notify.client.get("/notifications", params=params, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_notifications_lists_only_the_callers_own_newest_first_page_by_page(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, token_for: TokenFor, mail_sink: MailSink
) -> None:
    (alice, alice_mail), (bob, bob_mail) = new_user(), new_user()
    alice_outcomes = [processed(alice), failed(alice, FailureCode.TOO_LONG), processed(alice)]
    bob_outcome = processed(bob)
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(alice, alice_mail))
        await publisher.publish(registered(bob, bob_mail))
        await eventually(lambda: recipient_known(notify, alice))
        await eventually(lambda: recipient_known(notify, bob))
        for envelope in [*alice_outcomes, bob_outcome]:
            await publisher.publish(envelope)
            await eventually(lambda envelope=envelope: has_status(notify, envelope.id, "sent"), timeout=15)
        token = token_for(alice, alice_mail)
        status, first = await list_page(notify, token, limit=2)
        _, second = await list_page(notify, token, limit=2, cursor=first["next_cursor"])
        _, bobs = await list_page(notify, token_for(bob, bob_mail))

    assert status == 200
    listed = [item["video_id"] for item in first["items"] + second["items"]]
    expected = [str(e.data.video_id) for e in reversed(alice_outcomes)]  # type: ignore[attr-defined]
    assert listed == expected
    assert second["next_cursor"] is None
    item = first["items"][0]
    assert set(item) == {"id", "video_id", "kind", "channel", "status", "subject", "created_at", "sent_at"}
    assert (item["kind"], item["channel"], item["status"]) == ("processed", "email", "sent")
    assert item["sent_at"] is not None
    assert [i["video_id"] for i in bobs["items"]] == [str(bob_outcome.data.video_id)]  # type: ignore[attr-defined]


async def test_notifications_answer_401_without_a_valid_token_and_400_or_422_for_bad_parameters(
    settings: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> None:
    user, mail = new_user()
    token = token_for(user, mail)
    async with running_notify(settings, amqp) as notify:
        missing = await notify.client.get("/notifications")
        missing_body = await missing.json()
        forged = await notify.client.get("/notifications", headers={"Authorization": "Bearer not.a.jwt"})
        bad_cursor = await list_page(notify, token, cursor="bm90LWEtY3Vyc29y")
        bad_limit = await list_page(notify, token, limit=0)
        empty = await list_page(notify, token)

    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing_body["code"] == "missing_token"
    assert forged.status == 401
    assert bad_cursor == (400, bad_cursor[1])
    assert bad_cursor[1]["code"] == "invalid_cursor"
    assert bad_limit[0] == 422
    assert bad_limit[1]["errors"][0]["field"] == "limit"
    assert empty == (200, {"items": [], "next_cursor": None})


async def test_fuzzing_the_api_from_its_openapi_document_never_produces_a_server_error(
    settings: Settings, amqp: AbstractRobustConnection, token_for: TokenFor
) -> None:
    user, mail = new_user()
    token = token_for(user, mail)
    async with running_notify(settings, amqp) as notify:
        served = await (await notify.client.get("/openapi.json")).json()
        base_url = str(notify.client.make_url("/")).rstrip("/")
        seen = await asyncio.to_thread(fuzz, base_url, token)

    assert served == SPEC
    assert served["openapi"].startswith("3.1")
    assert {200, 401, 422} <= seen
    assert all(status < 500 for status in seen)


def fuzz(base_url: str, token: str) -> set[int]:
    """Positive and negative cases from the schema, with and without a valid token (runs in a thread: the
    schemathesis client is synchronous and the app serves from the test's event loop)."""
    operation = schemathesis.openapi.from_dict(SPEC)["/notifications"]["GET"]
    seen: set[int] = set()
    calls: list[Any] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            calls.append(case)
            headers = {} if len(calls) % 5 == 0 else {"Authorization": f"Bearer {token}"}  # some go anonymous
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            seen.add(response.status_code)
            assert response.status_code < 500, response.text
            if response.status_code == 200:
                operation.validate_response(response)

        check()
    return seen
