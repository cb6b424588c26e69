"""Bus benchmarks, each against a baseline measured in the same run on the same broker.

1. Outbox relay throughput (10,000 events of ~1 KiB, publisher confirms) / raw aio-pika publishing with
   confirms of the same bodies. Target: >= 0.50.
2. Commit-to-handler latency at low load (outbox -> relay -> broker -> consumer with inbox). Target: p50 < 20 ms,
   p99 < 100 ms.

Run: .venv/bin/python bench/bus.py [--events 10000] [--latency-events 300]"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._infra import percentile, scratch_database, scratch_vhost
from contracts import ObjectRef, VideoDeletedV1, VideoUploadedV1, encode, new_envelope
from contracts.envelope import amqp_headers
from contracts.topology import QueueSpec
from servicekit import outbox
from servicekit.bus import Consumer, MessageContext, Publisher, connect, declare_queue, declare_topology
from servicekit.bus.publisher import build_message
from servicekit.db import create_pool, migrate
from servicekit.outbox import OutboxRelay

BATCH = 200


def kib_event() -> object:
    data = VideoUploadedV1(
        video_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        filename="holiday-" + "x" * 560 + ".mp4",
        content_type="video/mp4",
        size_bytes=123456789,
        source=ObjectRef(bucket="framepipe", key=f"sources/{uuid.uuid4()}"),
        uploaded_at=datetime.now(UTC),
    )
    return new_envelope(data, source="framepipe/bench")


async def raw_publish(amqp_url: str, bodies: list[tuple[bytes, str, dict[str, str]]]) -> float:
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange("framepipe.events")
    started = time.perf_counter()
    for i in range(0, len(bodies), BATCH):
        await asyncio.gather(
            *(
                exchange.publish(
                    build_message(body, eid, "video.uploaded.v1", headers), routing_key="video.uploaded.v1"
                )
                for body, eid, headers in bodies[i : i + BATCH]
            )
        )
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


async def relay_publish(amqp_url: str, dsn: str, envelopes: list[object]) -> float:
    schema = "bench_relay"
    pool = await create_pool(dsn, schema, max_size=5)
    await migrate(pool, schema, Path(tempfile.mkdtemp()))
    async with pool.acquire() as conn, conn.transaction():
        for envelope in envelopes:
            await outbox.enqueue(conn, envelope)  # type: ignore[arg-type]
    connection = await connect(amqp_url, "bench")
    publisher = Publisher(connection, "bench")
    await publisher.start()
    relay = OutboxRelay(pool, publisher, dsn=dsn, schema=schema, service="bench", batch_size=BATCH)
    started = time.perf_counter()
    while await relay.publish_pending():
        pass
    elapsed = time.perf_counter() - started
    await connection.close()
    await pool.close()
    return elapsed


async def latency(amqp_url: str, dsn: str, count: int) -> list[float]:
    schema = "bench_latency"
    pool = await create_pool(dsn, schema, max_size=5)
    await migrate(pool, schema, Path(tempfile.mkdtemp()))
    connection = await connect(amqp_url, "bench-latency")
    publisher = Publisher(connection, "bench")
    await publisher.start()
    spec = QueueSpec(name="bench.latency", owner="bench", binds=("video.deleted.v1",))
    async with connection.channel() as channel:
        await declare_queue(channel, spec)
    committed: dict[uuid.UUID, float] = {}
    samples: list[float] = []

    async def on_deleted(event: VideoDeletedV1, ctx: MessageContext) -> None:
        samples.append(time.perf_counter() - committed[ctx.envelope.id])

    consumer = Consumer(connection, spec, {"video.deleted.v1": on_deleted}, publisher, service="bench", pool=pool)
    await consumer.start()
    relay = OutboxRelay(pool, publisher, dsn=dsn, schema=schema, service="bench", poll_interval=5.0)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.5)
    for _ in range(count):
        envelope = new_envelope(
            VideoDeletedV1(video_id=uuid.uuid4(), owner_id=uuid.uuid4(), deleted_at=datetime.now(UTC)),
            source="framepipe/bench",
        )
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, envelope)
        committed[envelope.id] = time.perf_counter()
        await asyncio.sleep(0.02)
    deadline = time.perf_counter() + 10
    while len(samples) < count and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await consumer.stop()
    await connection.close()
    await pool.close()
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--latency-events", type=int, default=300)
    args = parser.parse_args()
    envelopes = [kib_event() for _ in range(args.events)]
    bodies = [(encode(e), str(e.id), amqp_headers(e)) for e in envelopes]  # type: ignore[attr-defined]
    size = sum(len(b) for b, _, _ in bodies) / len(bodies)
    with scratch_vhost() as amqp_url:
        async with scratch_database() as dsn:
            connection = await connect(amqp_url, "bench-setup")
            await declare_topology(connection)
            await connection.close()
            raw = await raw_publish(amqp_url, bodies)
            relayed = await relay_publish(amqp_url, dsn, envelopes)
            samples = await latency(amqp_url, dsn, args.latency_events)
    raw_rate, relay_rate = args.events / raw, args.events / relayed
    print(f"events: {args.events} of {size:.0f} bytes")
    print(f"raw aio-pika with confirms: {raw_rate:,.0f} events/s")
    print(f"outbox relay with confirms: {relay_rate:,.0f} events/s")
    print(f"ratio relay/raw: {relay_rate / raw_rate:.2f}  (target >= 0.50)")
    print(
        f"commit-to-handler latency over {len(samples)} events: p50 {percentile(samples, 50) * 1000:.1f} ms, "
        f"p99 {percentile(samples, 99) * 1000:.1f} ms  (targets: p50 < 20 ms, p99 < 100 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
