"""The operator tooling against a real service: notify_svc's recipient directory, lost with its database, is
rebuilt by replaying the registrations to its queue alone."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from aio_pika.abc import AbstractRobustConnection
from aiohttp.test_utils import TestClient, TestServer

from contracts import UserRegisteredV1, new_envelope
from contracts.topology import NOTIFY_USER_DIRECTORY, QUEUES
from notify_svc.app import create_app
from notify_svc.settings import Settings
from ops.localinfra import LocalSMTP
from servicekit.bus import Publisher
from servicekit.runtime import POOL
from tests.conftest import JwtKeys
from tests.integration.test_ops_events import framepipe
from tests.support import depth, eventually


def notify_settings(database_url: str, amqp_url: str, smtp: LocalSMTP, jwt_keys: JwtKeys) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,  # type: ignore[arg-type]
        amqp_url=amqp_url,  # type: ignore[arg-type]
        db_schema=f"notify_{uuid.uuid4().hex[:10]}",
        smtp_port=smtp.port,
        jwt_public_keys_dir=jwt_keys.public_keys_dir,
        app_base_url="https://app.framepipe.test",
    )


async def every_depth(amqp: AbstractRobustConnection) -> dict[str, int]:
    names = [*QUEUES, *(spec.parking_queue for spec in QUEUES.values())]
    return {name: await depth(amqp, name) for name in names}


async def test_a_wiped_recipient_directory_is_rebuilt_by_a_replay_that_reaches_no_other_queue(
    database_url: str,
    amqp_url: str,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    smtp_server: LocalSMTP,
    jwt_keys: JwtKeys,
    tmp_path: Path,
) -> None:
    users = {uuid.uuid4(): f"user{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)}
    app = create_app(notify_settings(database_url, amqp_url, smtp_server, jwt_keys))
    async with TestClient(TestServer(app)) as client:
        pool = client.app[POOL]

        async def directory() -> dict[uuid.UUID, str]:
            async with pool.acquire() as conn:
                return {r["user_id"]: r["email"] for r in await conn.fetch("SELECT user_id, email FROM recipients")}

        for user_id, email in users.items():
            data = UserRegisteredV1(user_id=user_id, email=email, name=None, registered_at=datetime.now(UTC))
            await publisher.publish(new_envelope(data, source="framepipe/auth_svc"))
        await eventually(lambda: _has_all(directory, users), timeout=15)

        async with pool.acquire() as conn:  # the database is lost: directory and inbox alike
            await conn.execute("DELETE FROM recipients")
            await conn.execute("DELETE FROM inbox WHERE consumer = $1", NOTIFY_USER_DIRECTORY.name)
        before = await every_depth(amqp)

        await framepipe(
            "replay", "--type", "auth.user.registered.*", "--to-queue", NOTIFY_USER_DIRECTORY.name, "--execute",
            "--reason", "directory lost", "--state-dir", str(tmp_path), "--audit-log", str(tmp_path / "audit.jsonl"),
            "--amqp-url", amqp_url,
        )  # fmt: skip

        await eventually(lambda: _has_all(directory, users), timeout=20)
        assert await directory() == users
        after = await every_depth(amqp)
    assert {name: n for name, n in after.items() if n != before[name]} == {}


async def _has_all(directory: Callable[[], Awaitable[dict[uuid.UUID, str]]], users: dict[uuid.UUID, str]) -> bool:
    current = await directory()
    return all(current.get(user_id) == email for user_id, email in users.items())
