"""The per-service broker users (ops/bus/brokerusers.py), loaded into this machine's RabbitMQ from the very definitions
the dev broker boots with: each service can start and publish what it produces, and nothing else. A service's
credentials cannot forge another service's event, reach another service's queue, or pass for an operator's."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused
from yarl import URL

from contracts import (
    EventData,
    RevocationReason,
    TokenRevokedV1,
    VideoDeletedV1,
    new_envelope,
)
from contracts.topology import DEAD_LETTER_EXCHANGE, PROCESSOR_VIDEO_UPLOADED, VIDEO_PROCESSING_UPDATES
from ops.bus.brokerusers import OPERATOR, dev_definitions
from servicekit.bus import Publisher, PublishError, connect, declare_topology
from servicekit.revocations import DenyList, RevocationFeed
from tests.support.events import processed_data

VIDEO, OWNER = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(scope="module")
def users(amqp_url: str, run_id: str) -> Iterator[dict[str, str]]:
    """Every user of the dev definitions, named for this run (users are broker-wide), on this module's vhost.
    Maps a definition's user name to an AMQP URL logging in as it (the dev password is the original name)."""
    vhost = URL(amqp_url).path.lstrip("/")
    definitions: dict[str, Any] = dev_definitions(vhost)
    prefix = f"fp-{run_id}-"
    renamed = {user["name"]: prefix + user["name"] for user in definitions["users"]}
    for entry in [*definitions["users"]]:
        entry["name"] = renamed[entry["name"]]
    for entry in [*definitions["permissions"], *definitions["topic_permissions"]]:
        entry["user"] = renamed[entry["user"]]
    definitions["vhosts"] = []  # this module's vhost exists already
    # Read by the broker's own user (the rabbitmqctl wrapper switches to it): a file anyone may read.
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        file.write(json.dumps(definitions))
        file.flush()
        os.chmod(file.name, 0o644)
        imported = subprocess.run(
            ["rabbitmqctl", "-q", "import_definitions", file.name], capture_output=True, text=True, timeout=60
        )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    base = URL(amqp_url)
    yield {name: str(base.with_user(login).with_password(name)) for name, login in renamed.items()}
    for login in renamed.values():
        subprocess.run(["rabbitmqctl", "-q", "delete_user", login], check=False, capture_output=True, timeout=60)


@contextlib.asynccontextmanager
async def publisher_as(url: str) -> AsyncIterator[Publisher]:
    connection = await connect(url, "tests")
    publisher = Publisher(connection, "tests", timeout=5)
    await publisher.start()
    try:
        yield publisher
    finally:
        with contextlib.suppress(Exception):
            await publisher.close()
        await connection.close()


def processed() -> EventData:
    return processed_data(OWNER, VIDEO)


def deleted() -> EventData:
    return VideoDeletedV1(video_id=VIDEO, owner_id=OWNER, deleted_at=datetime.now(UTC))


def raw(body: bytes = b"{}", **properties: Any) -> aio_pika.Message:
    return aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties)


@pytest.mark.parametrize("service", ["auth-svc", "video-svc", "notify-svc", "processor-svc", "webhook-svc"])
async def test_every_service_user_can_declare_the_whole_topology(users: dict[str, str], service: str) -> None:
    connection = await connect(users[service], "tests")
    try:
        await declare_topology(connection)  # what every service does at start (decision 0002)
    finally:
        await connection.close()


async def test_video_svc_publishes_its_own_events_but_cannot_forge_the_processors(users: dict[str, str]) -> None:
    async with publisher_as(users["video-svc"]) as video:
        await video.publish(new_envelope(deleted(), source="framepipe/video_svc"))
        with pytest.raises(PublishError, match="ACCESS_REFUSED"):
            await video.publish(new_envelope(processed(), source="framepipe/video_svc"))
    async with publisher_as(users["processor-svc"]) as processor:
        await processor.publish(new_envelope(processed(), source="framepipe/processor_svc"))


async def test_a_service_reaches_no_other_services_queue(users: dict[str, str]) -> None:
    async with publisher_as(users["video-svc"]) as video:
        # Its own retries and parking go through the dead-letter exchange: allowed.
        await video.send_to(DEAD_LETTER_EXCHANGE, VIDEO_PROCESSING_UPDATES.retry_queue(0), raw())
        await video.send_to(DEAD_LETTER_EXCHANGE, VIDEO_PROCESSING_UPDATES.name, raw())
    # Another service's queue, by either exchange: refused (each refusal closes the channel).
    for exchange in (DEAD_LETTER_EXCHANGE, ""):
        async with publisher_as(users["video-svc"]) as video:
            with pytest.raises(PublishError, match="ACCESS_REFUSED"):
                await video.send_to(exchange, PROCESSOR_VIDEO_UPLOADED.name, raw())


async def test_only_the_operator_user_can_sign_a_message_as_the_operator(users: dict[str, str]) -> None:
    operator_login = URL(users[OPERATOR]).user
    async with publisher_as(users[OPERATOR]) as operator:
        await operator.send_to("", VIDEO_PROCESSING_UPDATES.parking_queue, raw(user_id=operator_login))
    async with publisher_as(users["video-svc"]) as video:
        with pytest.raises(PublishError, match="PRECONDITION_FAILED"):
            await video.send_to(DEAD_LETTER_EXCHANGE, VIDEO_PROCESSING_UPDATES.name, raw(user_id=operator_login))


async def test_auth_svc_publishes_revocations_and_the_token_verifiers_read_them_from_the_start(
    users: dict[str, str],
) -> None:
    revoked = TokenRevokedV1(
        user_id=OWNER,
        jti=uuid.uuid4().hex,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        reason=RevocationReason.LOGOUT,
        revoked_at=datetime.now(UTC),
    )
    async with publisher_as(users["auth-svc"]) as auth:
        await auth.publish(new_envelope(revoked, source="framepipe/auth_svc"))
    connection = await connect(users["video-svc"], "tests")
    try:
        deny_list = DenyList()
        feed = RevocationFeed(await connection.channel(), deny_list)
        await feed.start()
        await feed.caught_up()
        assert deny_list.refuses(OWNER, revoked.jti, 0)
    finally:
        await connection.close()
    connection = await connect(users["processor-svc"], "tests")  # it verifies no token: no read on the stream
    try:
        with pytest.raises(ChannelAccessRefused):
            await RevocationFeed(await connection.channel(), DenyList()).start()
    finally:
        await connection.close()
