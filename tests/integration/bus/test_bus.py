"""The bus against the real broker: round trips, unroutable publishes, retry with backoff, parking,
inbox dedup, recovery from connection loss and the archive stream."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import EVENT_TYPES, VideoDeletedV1, decode, new_envelope
from contracts.examples import example
from contracts.topology import ARCHIVE_STREAM, QueueSpec
from servicekit.bus import Consumer, MessageContext, PermanentError, Publisher, PublishError, declare_queue
from servicekit.bus.consumer import ERROR_HEADER, FIRST_ERROR_HEADER, PARK_REASON_HEADER
from tests.support.broker import depth, drain, temp_queue
from tests.support.events import deleted_event
from tests.support.polling import eventually


def test_queue_spec(name: str, **kwargs: object) -> QueueSpec:
    defaults: dict[str, object] = {
        "binds": ("video.deleted.v1",),
        "retry_delays_ms": (200, 400, 800),
        "max_attempts": 4,
    }
    defaults.update(kwargs)
    return QueueSpec(name=f"test.{name}.{uuid.uuid4().hex[:6]}", owner="tests", **defaults)  # type: ignore[arg-type]


test_queue_spec.__test__ = False  # type: ignore[attr-defined]


async def test_every_event_type_round_trips_with_its_correlation_and_causation(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    async with amqp.channel() as channel:
        queue = await temp_queue(channel, *EVENT_TYPES)
        sent = {}
        for event_type, model in EVENT_TYPES.items():
            envelope = new_envelope(
                example(model), source="framepipe/tests", correlation_id=f"corr-{event_type}", causation_id="cause-1"
            )
            sent[str(envelope.id)] = envelope
            await publisher.publish(envelope)
        received = {}
        async with queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                envelope = decode(message.body)
                received[str(envelope.id)] = (envelope, message)
                if len(received) == len(sent):
                    break
    assert set(received) == set(sent)
    for event_id, (envelope, message) in received.items():
        assert envelope == sent[event_id]
        assert envelope.correlationid == f"corr-{envelope.type}"
        assert envelope.causationid == "cause-1"
        assert message.routing_key == envelope.type
        assert message.message_id == event_id
        assert message.delivery_mode == 2
        assert message.content_type == "application/cloudevents+json"
        assert message.headers["ce-type"] == envelope.type
        assert message.headers["ce-subject"] == envelope.subject


async def test_a_follow_up_event_carries_the_correlation_and_names_its_cause(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = test_queue_spec("hop")
    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
        downstream = await temp_queue(channel, "video.processing.started.v1")

        async def on_deleted(event: VideoDeletedV1, ctx: MessageContext) -> None:
            started = example(EVENT_TYPES["video.processing.started.v1"])
            await publisher.publish(ctx.follow_up(started, source="framepipe/tests"))

        consumer = Consumer(amqp, spec, {"video.deleted.v1": on_deleted}, publisher, service="tests")
        await consumer.start()
        first = deleted_event(correlation_id="request-42")
        await publisher.publish(first)
        message = await eventually(lambda: downstream.get(fail=False, no_ack=True))
        await consumer.stop()
    follow = decode(message.body)
    assert follow.correlationid == "request-42"
    assert follow.causationid == str(first.id)


async def test_a_type_outside_the_contract_is_refused(publisher: Publisher) -> None:
    with pytest.raises(PublishError, match="not a type of the contract"):
        await publisher.publish_raw(b"{}", str(uuid.uuid4()), "video.exploded.v1", {})


async def test_an_unroutable_publish_raises_instead_of_vanishing(publisher: Publisher) -> None:
    import aio_pika

    message = aio_pika.Message(b"{}", delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
    with pytest.raises(PublishError):
        await publisher.send_to("framepipe.events", "nobody.listens.v1", message)


async def test_a_transient_error_is_retried_with_backoff_then_parked_with_body_and_headers(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = test_queue_spec("retry")
    attempts: list[float] = []

    async def always_fails(event: VideoDeletedV1, ctx: MessageContext) -> None:
        attempts.append(time.monotonic())
        raise RuntimeError(f"storage unavailable (attempt {ctx.attempt})")

    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    consumer = Consumer(amqp, spec, {"video.deleted.v1": always_fails}, publisher, service="tests")
    await consumer.start()
    envelope = deleted_event()
    await publisher.publish(envelope)
    parked = await drain(amqp, spec.parking_queue, 1, timeout=15)
    await consumer.stop()

    assert len(attempts) == spec.max_attempts
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for gap, delay_ms in zip(gaps, spec.retry_delays_ms, strict=False):
        assert gap >= delay_ms / 1000 * 0.9, (gaps, spec.retry_delays_ms)
    assert gaps[-1] > gaps[0], "backoff must grow"
    message = parked[0]
    assert message.body == envelope.model_dump_json().encode()
    assert message.headers["ce-id"] == str(envelope.id)
    assert message.headers[PARK_REASON_HEADER] == "retries_exhausted"
    assert "attempt 1" in str(message.headers[FIRST_ERROR_HEADER])
    assert f"attempt {spec.max_attempts}" in str(message.headers[ERROR_HEADER])
    assert await depth(amqp, spec.name) == 0


async def test_a_permanent_error_is_parked_at_once(amqp: AbstractRobustConnection, publisher: Publisher) -> None:
    spec = test_queue_spec("permanent")
    attempts = 0

    async def rejects(event: VideoDeletedV1, ctx: MessageContext) -> None:
        nonlocal attempts
        attempts += 1
        raise PermanentError("this video belongs to nobody")

    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    consumer = Consumer(amqp, spec, {"video.deleted.v1": rejects}, publisher, service="tests")
    await consumer.start()
    await publisher.publish(deleted_event())
    parked = await drain(amqp, spec.parking_queue, 1)
    await asyncio.sleep(0.5)
    await consumer.stop()
    assert attempts == 1
    assert parked[0].headers[PARK_REASON_HEADER] == "permanent_error"


async def test_a_malformed_message_is_parked_without_reaching_a_handler(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    import aio_pika

    spec = test_queue_spec("malformed")
    called = False

    async def handler(event: VideoDeletedV1, ctx: MessageContext) -> None:
        nonlocal called
        called = True

    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    consumer = Consumer(amqp, spec, {"video.deleted.v1": handler}, publisher, service="tests")
    await consumer.start()
    await publisher.send_to("framepipe.events", "video.deleted.v1", aio_pika.Message(b"{not json"))
    parked = await drain(amqp, spec.parking_queue, 1)
    await consumer.stop()
    assert not called
    assert parked[0].body == b"{not json"
    assert parked[0].headers[PARK_REASON_HEADER] == "malformed"


async def test_a_handler_that_keeps_crashing_its_consumer_is_dead_lettered_by_the_delivery_limit(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    """A message whose delivery keeps being lost (consumer killed) is parked by the broker's delivery limit."""
    spec = test_queue_spec("crash", delivery_limit=2)
    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    await publisher.publish(deleted_event())
    for _ in range(spec.delivery_limit + 1):
        async with amqp.channel() as channel:
            queue = await channel.get_queue(spec.name, ensure=False)
            message = await eventually(lambda q=queue: q.get(fail=False))
            await message.nack(requeue=True)
    parked = await drain(amqp, spec.parking_queue, 1)
    deaths = parked[0].headers["x-death"]
    assert deaths[0]["reason"] == "delivery_limit"  # type: ignore[index]


async def test_the_archive_holds_every_event_and_reads_from_a_point_in_time(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    await publisher.publish(deleted_event())
    await asyncio.sleep(1.1)
    since = datetime.now(UTC)
    later = [deleted_event() for _ in range(5)]
    for envelope in later:
        await publisher.publish(envelope)
    ids: list[str] = []
    async with amqp.channel() as channel:
        await channel.set_qos(prefetch_count=100)
        stream = await channel.get_queue(ARCHIVE_STREAM, ensure=False)
        async with stream.iterator(arguments={"x-stream-offset": since}) as messages:
            async for message in messages:
                await message.ack()
                ids.append(str(message.message_id))
                if len(ids) >= len(later):
                    break
    assert ids == [str(e.id) for e in later]


async def test_consumers_and_publishers_recover_when_every_connection_is_closed(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = test_queue_spec("recover")
    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
    handled: dict[uuid.UUID, int] = {}

    async def count(event: VideoDeletedV1, ctx: MessageContext) -> None:
        handled[event.video_id] = handled.get(event.video_id, 0) + 1

    consumer = Consumer(amqp, spec, {"video.deleted.v1": count}, publisher, service="tests", prefetch=50)
    await consumer.start()
    vhost = amqp_url.rsplit("/", 1)[-1]
    sent: set[uuid.UUID] = set()
    for i in range(200):
        if i == 100:
            subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test"], check=True, timeout=30)
        envelope = deleted_event()
        for _ in range(50):
            try:
                await publisher.publish(envelope)
                break
            except PublishError:
                await asyncio.sleep(0.2)
        sent.add(envelope.data.video_id)
    await eventually(lambda: set(handled) >= sent, timeout=30)
    await consumer.stop()
    assert set(handled) == sent


async def test_a_redelivery_after_a_lost_consumer_counts_as_another_attempt(
    amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    spec = test_queue_spec("attempts")
    seen: list[int] = []

    async def record(event: VideoDeletedV1, ctx: MessageContext) -> None:
        seen.append(ctx.attempt)

    async with amqp.channel() as channel:
        await declare_queue(channel, spec)
        await publisher.publish(deleted_event())
        queue = await channel.get_queue(spec.name, ensure=False)
        crashed = await eventually(lambda: queue.get(fail=False))
        await crashed.nack(requeue=True)  # what the broker does when the consumer's connection dies
    consumer = Consumer(amqp, spec, {"video.deleted.v1": record}, publisher, service="tests")
    await consumer.start()
    await eventually(lambda: seen)
    await consumer.stop()
    assert seen == [2]
