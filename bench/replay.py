"""Replay throughput and memory: N archived events replayed to one queue by `framepipe replay --execute`,
against raw aio-pika publishing of the same messages with confirms (the same window of publishes in flight,
and one at a time) to the same queue, measured in the same run on a vhost of its own.

    .venv/bin/python bench/replay.py                 # 20,000 events
    .venv/bin/python bench/replay.py --events 100000 --sequential
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import VideoDeletedV1, new_envelope
from contracts.envelope import amqp_headers, encode
from contracts.topology import EVENTS_EXCHANGE, NOTIFY_USER_DIRECTORY
from ops.bus.replayer import WINDOW
from ops.cli import build_parser
from servicekit.bus import connect, declare_topology
from servicekit.bus.publisher import build_message

AMQP_BASE = os.environ.get("TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
TARGET = NOTIFY_USER_DIRECTORY.name
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def messages(count: int) -> list[aio_pika.Message]:
    # video.deleted.v1 has no consumer queue: filling the archive fills nothing else.
    built = []
    for _ in range(count):
        data = VideoDeletedV1(video_id=uuid.uuid4(), owner_id=uuid.uuid4(), deleted_at=datetime.now(UTC))
        envelope = new_envelope(data, source="framepipe/bench")
        built.append(build_message(encode(envelope), str(envelope.id), envelope.type, amqp_headers(envelope)))
    return built


async def publish_windowed(exchange: aio_pika.abc.AbstractExchange, batch: list[aio_pika.Message], key: str) -> None:
    window = asyncio.Semaphore(WINDOW)

    async def one(message: aio_pika.Message, routing_key: str) -> None:
        try:
            await exchange.publish(message, routing_key=routing_key, mandatory=True)
        finally:
            window.release()

    tasks = []
    for message in batch:
        await window.acquire()
        tasks.append(asyncio.create_task(one(message, key or str(message.type))))
    await asyncio.gather(*tasks)


async def publish_one_by_one(exchange: aio_pika.abc.AbstractExchange, batch: list[aio_pika.Message], key: str) -> None:
    for message in batch:
        await exchange.publish(message, routing_key=key, mandatory=True)


CPU: dict[str, float] = {}  # process CPU seconds per phase: unlike wall time, not moved by other load


async def timed(action: Callable[[], Awaitable[object]], phase: str = "") -> float:
    started, cpu = time.perf_counter(), time.process_time()
    await action()
    CPU[phase] = time.process_time() - cpu
    return time.perf_counter() - started


async def purge(channel: aio_pika.abc.AbstractChannel) -> None:
    await (await channel.get_queue(TARGET, ensure=False)).purge()


async def replay_job(url: str, workdir: Path, samples: list[float]) -> float:
    argv = ["replay", "--type", "video.deleted.v1", "--to-queue", TARGET, "--execute", "--reason", "bench"]
    argv += ["--state-dir", str(workdir), "--audit-log", str(workdir / "audit.jsonl"), "--amqp-url", url]
    args = build_parser().parse_args(argv)

    async def sample() -> None:
        while True:
            samples.append(rss_mib())
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample())
    try:
        return await timed(lambda: args.run_async(args, io.StringIO()), "replay")
    finally:
        sampler.cancel()


async def main(count: int, sequential: bool) -> None:
    vhost = f"bench_replay_{uuid.uuid4().hex[:6]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    url = f"{AMQP_BASE}/{vhost}"
    try:
        connection = await connect(url, "bench")
        await declare_topology(connection)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        batch = messages(count)
        events = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        fill = await timed(lambda: publish_windowed(events, batch, ""))
        print(f"archived {count} events in {fill:.1f}s")

        raw = await timed(lambda: publish_windowed(channel.default_exchange, batch, TARGET), "raw")
        await purge(channel)
        one_by_one = None
        if sequential:
            one_by_one = await timed(lambda: publish_one_by_one(channel.default_exchange, batch, TARGET))
            await purge(channel)
        # The replay runs as its own command would, without the baseline's 100,000 prebuilt messages alive beside
        # it for every garbage collection to walk.
        batch.clear()
        gc.collect()
        samples: list[float] = []
        with tempfile.TemporaryDirectory() as workdir:
            replayed = await replay_job(url, Path(workdir), samples)
        await connection.close()
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)

    print(f"raw aio-pika, confirms, {WINDOW} in flight: {count / raw:9.0f} msg/s")
    if one_by_one:
        print(f"raw aio-pika, confirms, one at a time:   {count / one_by_one:9.0f} msg/s")
    print(f"framepipe replay --execute:              {count / replayed:9.0f} msg/s")
    print(f"ratio replay / raw windowed: {raw / replayed:.2f}  (goal >= 0.50)")
    print(
        f"CPU per message in this process: raw {CPU['raw'] / count * 1e6:.0f} µs, "
        f"replay {CPU['replay'] / count * 1e6:.0f} µs (ratio {CPU['raw'] / CPU['replay']:.2f})"
    )
    if one_by_one:
        print(f"ratio replay / raw one at a time: {one_by_one / replayed:.2f}")
    settled = samples[len(samples) // 5 :] or samples
    print(
        f"replay RSS MiB: first {samples[0]:.1f}, at 20% {settled[0]:.1f}, max {max(samples):.1f}, "
        f"last {samples[-1]:.1f} (growth after 20%: {max(settled) - settled[0]:+.1f})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--sequential", action="store_true", help="also measure one publish at a time")
    options = parser.parse_args()
    asyncio.run(main(options.events, options.sequential))
