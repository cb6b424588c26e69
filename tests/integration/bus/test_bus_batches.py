"""The batched consumer against the real broker and database: what waits is handled together, each message
still gets its own fate (done once, retried alone, parked alone), and one ack per batch loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.envelope import Envelope
from contracts.topology import QueueSpec
from servicekit.bus import PermanentError, Publisher, declare_queue
from servicekit.bus.batch import BatchConsumer, Batched, BatchItem
from tests.support.broker import depth, drain
from tests.support.database import SchemaPool
from tests.support.events import deleted_event
from tests.support.polling import eventually


def batch_queue() -> QueueSpec:
    return QueueSpec(
        name=f"test.batches.{uuid.uuid4().hex[:6]}",
        owner="tests",
        binds=("video.deleted.v1",),
        retry_delays_ms=(200, 400),
        max_attempts=3,
    )


async def declared(amqp: AbstractRobustConnection) -> QueueSpec:
    spec = batch_queue()
    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    return spec


async def effects(db: SchemaPool) -> list[uuid.UUID]:
    async with db.pool.acquire() as conn:
        return [r["event_id"] for r in await conn.fetch("SELECT event_id FROM effects")]


async def inbox_ids(db: SchemaPool, queue: str) -> set[uuid.UUID]:
    async with db.pool.acquire() as conn:
        return {r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox WHERE consumer = $1", queue)}


async def record_all(items: Sequence[BatchItem]) -> list[Exception | None]:
    conn = items[0][1].db
    await conn.executemany("INSERT INTO effects (event_id) VALUES ($1)", [(ctx.envelope.id,) for _, ctx in items])
    return [None] * len(items)


@contextlib.asynccontextmanager
async def consuming(
    amqp: AbstractRobustConnection,
    spec: QueueSpec,
    handler: object,
    publisher: Publisher,
    db: SchemaPool,
    *,
    prefetch: int = 10,
    slots: int = 1,
) -> AsyncIterator[BatchConsumer]:
    """A batched consumer of `spec` with `handler` for video.deleted.v1, running for the block."""
    batched = Batched({"video.deleted.v1": handler})  # type: ignore[dict-item]
    consumer = BatchConsumer(
        amqp, spec, batched, publisher, service="tests", pool=db.pool, prefetch=prefetch, slots=slots
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


class Gate:
    """Holds the first batch until released, so that what is published meanwhile waits and forms the next."""

    def __init__(self, handler: Callable[[Sequence[BatchItem]], Awaitable[list[Exception | None]]]) -> None:
        self.handler = handler
        self.sizes: list[int] = []
        self.release = asyncio.Event()

    async def __call__(self, items: Sequence[BatchItem]) -> list[Exception | None]:
        self.sizes.append(len(items))
        if len(self.sizes) == 1:
            await self.release.wait()
        return await self.handler(items)

    async def batch_of(
        self, publisher: Publisher, amqp: AbstractRobustConnection, queue: str, envelopes: list[Envelope[Any]]
    ) -> None:
        """Publish a first event and hold it in the handler, publish `envelopes` behind it, wait until the broker
        has delivered them all, then let the first batch finish: `envelopes` are the next batch."""
        await publisher.publish(deleted_event())
        await eventually(lambda: self.sizes == [1])
        for envelope in envelopes:
            await publisher.publish(envelope)
        await eventually(lambda: _depth_is(amqp, queue, 0))
        self.release.set()


async def test_messages_waiting_behind_a_slow_batch_are_handled_together_and_each_exactly_once(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    gate = Gate(record_all)
    events = [deleted_event() for _ in range(6)]
    async with consuming(amqp, spec, gate, publisher, schema_pool):
        await gate.batch_of(publisher, amqp, spec.name, [*events, events[0]])  # one event twice in the batch
        await eventually(lambda: _count(schema_pool, 7))
        await asyncio.sleep(0.3)

    assert gate.sizes == [1, 6]  # everything that waited, in one call; the second copy never reached the handler
    applied = await effects(schema_pool)
    assert len(applied) == len(set(applied)) == 7
    assert {e.id for e in events} <= set(applied)
    assert await depth(amqp, spec.name) == 0  # one multiple ack settled the batch: nothing came back


async def test_a_failed_item_is_retried_alone_and_a_rejected_one_parked_while_the_rest_of_its_batch_commits(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    events = [deleted_event() for _ in range(5)]
    flaky, rejected = events[1].id, events[3].id
    attempts: dict[uuid.UUID, list[int]] = {}

    async def picky(items: Sequence[BatchItem]) -> list[Exception | None]:
        answers: list[Exception | None] = []
        done = []
        for _, ctx in items:
            attempts.setdefault(ctx.envelope.id, []).append(ctx.attempt)
            if ctx.envelope.id == rejected:
                answers.append(PermanentError("this one can never work"))
            elif ctx.envelope.id == flaky and ctx.attempt == 1:
                answers.append(ConnectionError("try again later"))
            else:
                done.append((ctx.envelope.id,))
                answers.append(None)
        await items[0][1].db.executemany("INSERT INTO effects (event_id) VALUES ($1)", done)
        return answers

    gate = Gate(picky)
    async with consuming(amqp, spec, gate, publisher, schema_pool):
        await gate.batch_of(publisher, amqp, spec.name, events)
        [parked] = await drain(amqp, spec.parking_queue, 1, timeout=10)
        await eventually(lambda: _count(schema_pool, 5))  # the gate's event and four of the five
        await asyncio.sleep(0.6)  # longer than the retry delay: a second retry or a duplicate would show now

    assert gate.sizes[:2] == [1, 5]
    assert parked.message_id == str(rejected)
    assert parked.headers["x-framepipe-park-reason"] == "permanent_error"
    applied = await effects(schema_pool)
    assert len(applied) == len(set(applied)) == 5
    assert {e.id for e in events} - set(applied) == {rejected}
    assert attempts[flaky] == [1, 2]  # retried alone, once
    assert all(attempts[e.id] == [1] for e in events if e.id != flaky)
    claimed = await inbox_ids(schema_pool, spec.name)
    assert rejected not in claimed
    assert {e.id for e in events if e.id != rejected} <= claimed


async def test_a_batch_whose_handler_raises_is_rolled_back_whole_and_every_item_retried(
    schema_pool: SchemaPool, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    events = [deleted_event() for _ in range(4)]
    broke: list[int] = []

    async def breaks_once(items: Sequence[BatchItem]) -> list[Exception | None]:
        answers = await record_all(items)  # written, then undone by the rollback the first time
        if len(items) == len(events) and not broke:
            broke.append(len(items))
            raise RuntimeError("the database went away half-way")
        return answers

    gate = Gate(breaks_once)
    async with consuming(amqp, spec, gate, publisher, schema_pool):
        await gate.batch_of(publisher, amqp, spec.name, events)
        await eventually(lambda: _count(schema_pool, 5))
        await asyncio.sleep(0.6)

    assert broke == [4]
    applied = await effects(schema_pool)
    assert len(applied) == len(set(applied)) == 5  # each once, after the retry
    assert {e.id for e in events} <= set(applied)


async def test_four_hundred_events_survive_every_connection_being_closed_with_no_loss_and_no_double_effect(
    schema_pool: SchemaPool, amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = await declared(amqp)
    events = [deleted_event() for _ in range(400)]
    vhost = amqp_url.rsplit("/", 1)[-1]
    async with consuming(amqp, spec, record_all, publisher, schema_pool, prefetch=20, slots=2):
        for i, envelope in enumerate(events):
            await _publish_until_confirmed(publisher, envelope)
            if i in (120, 280):
                subprocess.run(
                    ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "fault test"], timeout=30, check=True
                )
        await eventually(lambda: _count(schema_pool, len(events)), timeout=60)
        await eventually(lambda: _depth_is(amqp, spec.name, 0), timeout=30)
        await asyncio.sleep(0.5)

    applied = await effects(schema_pool)
    assert len(applied) == len(set(applied)) == len(events)


async def _publish_until_confirmed(publisher: Publisher, envelope: Envelope[Any]) -> None:
    for _ in range(100):
        try:
            await publisher.publish(envelope)
            return
        except Exception:  # the connection is being re-established
            await asyncio.sleep(0.1)
    pytest.fail("the publisher never came back")


async def _count(db: SchemaPool, expected: int) -> bool:
    return len(await effects(db)) >= expected


async def _depth_is(amqp: AbstractRobustConnection, queue: str, expected: int) -> bool:
    return await depth(amqp, queue) == expected
