"""The transactional outbox and the inbox against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import VideoDeletedV1
from contracts.topology import QueueSpec
from servicekit import outbox
from servicekit.bus import Consumer, MessageContext, Publisher, declare_queue
from servicekit.db import create_pool, migrate
from servicekit.outbox import OutboxRelay
from tests.support.broker import depth, drain
from tests.support.database import SchemaPool
from tests.support.events import deleted_event
from tests.support.polling import eventually


def queue_spec() -> QueueSpec:
    return QueueSpec(name=f"test.outbox.{uuid.uuid4().hex[:6]}", owner="tests", binds=("video.deleted.v1",))


async def declared(amqp: AbstractRobustConnection) -> QueueSpec:
    spec = queue_spec()
    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    return spec


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def make_relay(db: SchemaPool, publisher: Publisher, **kwargs: Any) -> OutboxRelay:
    return OutboxRelay(db.pool, publisher, dsn=db.dsn, schema=db.schema, service="tests", **kwargs)


async def unsent(db: SchemaPool) -> int:
    async with db.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def all_sent(db: SchemaPool) -> bool:
    return await unsent(db) == 0


async def drained(amqp: AbstractRobustConnection, queue: str) -> bool:
    return await depth(amqp, queue) == 0


async def effects(db: SchemaPool) -> list[uuid.UUID]:
    async with db.pool.acquire() as conn:
        return [r["event_id"] for r in await conn.fetch("SELECT event_id FROM effects")]


async def record_effect(event: VideoDeletedV1, ctx: MessageContext) -> None:
    await ctx.db.execute("INSERT INTO effects (event_id) VALUES ($1)", ctx.envelope.id)


async def test_migrations_are_applied_once(schema_pool: SchemaPool, tmp_path: Any) -> None:
    again = await migrate(schema_pool.pool, schema_pool.schema, tmp_path / "migrations")
    assert again == []


async def test_a_failed_migration_leaves_no_pooled_connection_holding_the_schema_lock(
    schema_pool: SchemaPool, tmp_path: Any
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0002_broken.sql").write_text("CREATE TABLE oops (")
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrate(schema_pool.pool, schema_pool.schema, broken)
    # Pooled connections are handed back without a session reset: none of them may still hold the lock, or this
    # second attempt (another replica, in production) would wait for it forever.
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    (fixed / "0002_fixed.sql").write_text("CREATE TABLE fixed (id int);")
    other = await create_pool(schema_pool.dsn, schema_pool.schema, min_size=1, max_size=1)
    try:
        assert await asyncio.wait_for(migrate(other, schema_pool.schema, fixed), 10) == ["0002_fixed.sql"]
    finally:
        await other.close()


async def test_a_committed_event_is_published_and_a_rolled_back_one_is_not(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    committed, rolled_back = deleted_event(), deleted_event()
    async with schema_pool.pool.acquire() as conn:
        async with conn.transaction():
            await outbox.enqueue(conn, committed)
        with contextlib.suppress(RuntimeError):
            async with conn.transaction():
                await outbox.enqueue(conn, rolled_back)
                raise RuntimeError("the use case failed after writing its event")
    async with running(make_relay(schema_pool, publisher)):
        messages = await drain(amqp, spec.name, 1)
        await asyncio.sleep(0.5)
    assert [m.message_id for m in messages] == [str(committed.id)]
    assert await depth(amqp, spec.name) == 0
    assert await unsent(schema_pool) == 0


class Killed(Exception):
    """Stands for the process dying: not a broker refusal, so the relay must not treat it as one."""


class CrashAfterConfirm:
    """A publisher whose process 'dies' right after the broker confirmed, before the relay marks the row."""

    def __init__(self, real: Publisher) -> None:
        self.real = real

    async def publish_raw(self, body: bytes, event_id: str, event_type: str, headers: Mapping[str, Any]) -> None:
        await self.real.publish_raw(body, event_id, event_type, headers)
        raise Killed("killed between confirm and mark")


async def test_a_relay_that_dies_between_confirm_and_mark_publishes_again_and_the_inbox_drops_the_duplicate(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    event = deleted_event()
    async with schema_pool.pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, event)
    dying = make_relay(schema_pool, CrashAfterConfirm(publisher))  # type: ignore[arg-type]
    with pytest.raises(Killed):
        await dying.publish_pending()
    assert await unsent(schema_pool) == 1
    assert await depth(amqp, spec.name) == 1

    consumer = Consumer(
        amqp, spec, {"video.deleted.v1": record_effect}, publisher, service="tests", pool=schema_pool.pool
    )
    await consumer.start()
    async with running(make_relay(schema_pool, publisher)):
        await eventually(lambda: all_sent(schema_pool))
        await eventually(lambda: drained(amqp, spec.name))
        await asyncio.sleep(0.3)
    await consumer.stop()
    assert await effects(schema_pool) == [event.id]
    async with schema_pool.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event.id) == 1


class DriverBug(Exception):
    """Stands for an error of no usual type (asyncpg raised InternalClientError when PostgreSQL restarted under it)."""


class FailsOnceStrangely:
    """A publisher whose first publish fails with an exception the relay has never heard of."""

    def __init__(self, real: Publisher) -> None:
        self.real = real
        self.failed = False

    async def publish_raw(self, body: bytes, event_id: str, event_type: str, headers: Mapping[str, Any]) -> None:
        if not self.failed:
            self.failed = True
            raise DriverBug("cannot switch to state 15; another operation (2) is in progress")
        await self.real.publish_raw(body, event_id, event_type, headers)


async def test_a_relay_outlives_an_error_of_a_kind_it_does_not_know_and_publishes_the_event_after_it(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    async with schema_pool.pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, deleted_event())
    flaky = FailsOnceStrangely(publisher)
    async with running(make_relay(schema_pool, flaky)):  # type: ignore[arg-type]
        await eventually(lambda: flaky.failed)
        await eventually(lambda: all_sent(schema_pool))
    assert await depth(amqp, spec.name) == 1


async def test_twenty_transactions_committing_out_of_order_leave_nothing_unpublished(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    events = [deleted_event() for _ in range(20)]

    async def staggered(envelope: Any, delay: float) -> None:
        async with schema_pool.pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, envelope)
            await asyncio.sleep(delay)  # ids are taken in one order, commits land in another

    async with running(make_relay(schema_pool, publisher, poll_interval=0.2)):
        await asyncio.gather(*(staggered(e, random.uniform(0, 0.8)) for e in events))
        messages = await drain(amqp, spec.name, len(events), timeout=15)
    assert {m.message_id for m in messages} == {str(e.id) for e in events}
    assert await unsent(schema_pool) == 0


async def test_a_thousand_events_survive_every_connection_being_closed_with_no_loss_and_no_double_effect(
    schema_pool: SchemaPool, amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    consumer = Consumer(
        amqp, spec, {"video.deleted.v1": record_effect}, publisher, service="tests", pool=schema_pool.pool, prefetch=50
    )
    await consumer.start()
    events = [deleted_event() for _ in range(1000)]
    vhost = amqp_url.rsplit("/", 1)[-1]
    async with running(make_relay(schema_pool, publisher, batch_size=50)):
        for i in range(0, len(events), 50):
            async with schema_pool.pool.acquire() as conn, conn.transaction():
                for envelope in events[i : i + 50]:
                    await outbox.enqueue(conn, envelope)
            if i in (300, 650):
                subprocess.run(
                    ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "fault test"], timeout=30, check=True
                )
            await asyncio.sleep(0.02)
        await eventually(lambda: all_sent(schema_pool), timeout=60)
        await eventually(lambda: _count_effects(schema_pool, len(events)), timeout=60)
    await consumer.stop()
    applied = await effects(schema_pool)
    assert len(applied) == len(set(applied)) == len(events)
    assert set(applied) == {e.id for e in events}


async def _count_effects(db: SchemaPool, expected: int) -> bool:
    return len(await effects(db)) >= expected
