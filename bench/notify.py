"""notify_svc throughput and memory against the floor it cannot beat: aiosmtplib sending the same messages
straight to the same SMTP server.

One run measures, against one aiosmtpd server in its own process:
- baseline: the N messages notify would send (same templates, same sizes), sent with `aiosmtplib.send` at
  the same concurrency as notify's outcome consumer;
- notify_svc: N outcome events (`video.processed.v1`) published to RabbitMQ and consumed by the real app
  (`create_app`): inbox, recipient lookup, SMTP, notification log, outbox, notification.sent.v1;
and prints the throughput ratio (goal: >= 0.5) and the process RSS before and after each round (flat).

    .venv/bin/python bench/notify.py [--events 1000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import new_envelope
from contracts.events import ResultObject, UserRegisteredV1, VideoProcessedV1
from contracts.topology import NOTIFY_VIDEO_OUTCOMES
from notify_svc.app import create_app
from notify_svc.emails import Sender, Templates, build_message, message_id_for
from notify_svc.settings import Settings
from ops.localinfra import free_port, wait_for_port
from servicekit.bus import Publisher, connect, declare_topology
from servicekit.logging import configure_logging
from servicekit.runtime import POOL
from servicekit.tokens import generate_keypair

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AMQP_BASE = "amqp://guest:guest@127.0.0.1:5672"
USERS = 50


def latencies() -> str:
    """Mean SMTP time and mean handler time per outcome message, from the service's own histograms."""
    from prometheus_client import REGISTRY

    def mean(metric: str, **labels: str) -> float:
        total = sum(
            s.value
            for m in REGISTRY.collect()
            for s in m.samples
            if s.name == f"{metric}_sum" and all(s.labels.get(k) == v for k, v in labels.items())
        )
        count = sum(
            s.value
            for m in REGISTRY.collect()
            for s in m.samples
            if s.name == f"{metric}_count" and all(s.labels.get(k) == v for k, v in labels.items())
        )
        return 1000 * total / count if count else 0.0

    smtp = mean("notify_smtp_send_seconds", outcome="sent")
    handler = mean("bus_handler_duration_seconds", queue=NOTIFY_VIDEO_OUTCOMES.name)
    return f"mean per outcome in notify: SMTP {smtp:.1f} ms, whole handler {handler:.1f} ms"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_sink(port: int, counter: Any) -> None:
    """An SMTP server that accepts and counts (it keeps nothing, so its memory is not the bench's)."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def processed(owner_id: uuid.UUID) -> VideoProcessedV1:
    video_id = uuid.uuid4()
    result = ResultObject(bucket="results", key=f"videos/{video_id}/frames.zip", size_bytes=10_000, sha256="0" * 64)
    return VideoProcessedV1(
        video_id=video_id,
        owner_id=owner_id,
        frame_count=120,
        duration_seconds=120,
        result=result,
        processing_seconds=30,
        finished_at=datetime.now(UTC),
    )


async def baseline(port: int, counter: Any, n: int, concurrency: int, users: dict[uuid.UUID, str]) -> float:
    templates, sender = Templates("en"), Sender.parse("framepipe <no-reply@framepipe.local>")
    owners = list(users)
    messages = []
    for i in range(n):
        event = processed(owners[i % len(owners)])
        letter = templates.processed(
            name="Bench User", video_id=event.video_id, filename=None, frame_count=120, link="http://app/video/x"
        )
        recipient = users[event.owner_id]
        message = build_message(
            letter,
            sender=sender,
            recipient=recipient,
            recipient_name="Bench User",
            message_id=message_id_for(uuid.uuid4()),
            date=datetime.now(UTC),
        )
        messages.append((message, recipient))
    start_count = counter.value
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in messages:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            message, recipient = queue.get_nowait()
            await aiosmtplib.send(
                message,
                sender=sender.address,
                recipients=[recipient],
                hostname="127.0.0.1",
                port=port,
                start_tls=False,
                timeout=10,
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    assert counter.value - start_count == n
    return elapsed


async def notify_round(
    publisher: Publisher, app: web.Application, counter: Any, n: int, owners: list[uuid.UUID]
) -> float:
    start_count = counter.value
    events = [new_envelope(processed(owners[i % len(owners)]), source="framepipe/bench") for i in range(n)]
    started = time.perf_counter()
    for i in range(0, n, 100):
        await asyncio.gather(*(publisher.publish(e) for e in events[i : i + 100]))
    while counter.value - start_count < n:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    sent = 0
    for _ in range(200):  # the last commits land just after the SMTP server accepted their messages
        async with app[POOL].acquire() as conn:
            sent = await conn.fetchval(
                "SELECT count(*) FROM notifications WHERE status = 'sent' AND event_id = ANY($1::uuid[])",
                [e.id for e in events],
            )
        if sent == n:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert counter.value - start_count == n, "a duplicate e-mail was sent"
    assert sent == n, f"{sent} of {n} notifications logged as sent"
    return elapsed


async def main(n: int, rounds: int) -> None:
    tag = uuid.uuid4().hex[:8]
    database, vhost = f"fp_bench_{tag}", f"fp_bench_{tag}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    port = free_port()
    counter = multiprocessing.get_context("spawn").Value("l", 0)
    sink = multiprocessing.get_context("spawn").Process(target=run_sink, args=(port, counter), daemon=True)
    sink.start()
    wait_for_port("127.0.0.1", port)
    try:
        await measure(n, rounds, port, counter, f"{PG_ADMIN.rsplit('/', 1)[0]}/{database}", f"{AMQP_BASE}/{vhost}")
    finally:
        sink.terminate()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def measure(n: int, rounds: int, port: int, counter: Any, database_url: str, amqp_url: str) -> None:
    keys = Path(tempfile.mkdtemp(prefix="fp-bench-keys-"))
    generate_keypair(keys / "private.pem", keys / "public", "bench")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,  # type: ignore[arg-type]
        amqp_url=amqp_url,  # type: ignore[arg-type]
        smtp_port=port,
        jwt_public_keys_dir=keys / "public",
        log_level="warning",
        http_port=free_port(),
    )
    concurrency = settings.db_pool_max  # notify's outcome consumer prefetch
    users = {uuid.uuid4(): f"bench-{i}@example.com" for i in range(USERS)}
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    connection = await connect(amqp_url, "bench")
    await declare_topology(connection)
    publisher = Publisher(connection, "bench")
    await publisher.start()
    try:
        for user_id, address in users.items():
            await publisher.publish(
                new_envelope(
                    UserRegisteredV1(
                        user_id=user_id, email=address, name="Bench User", registered_at=datetime.now(UTC)
                    ),
                    source="framepipe/bench",
                )
            )
        await notify_round(publisher, app, counter, 100, list(users))  # warm-up: pools, channels, caches
        print(
            f"{'round':<8}{'baseline s':>12}{'notify s':>10}{'base msg/s':>12}{'notify msg/s':>14}{'ratio':>8}"
            f"{'RSS MiB':>16}"
        )
        for r in range(1, rounds + 1):
            direct = await baseline(port, counter, n, concurrency, users)
            before = rss_mib()
            through = await notify_round(publisher, app, counter, n, list(users))
            after = rss_mib()
            print(
                f"{r:<8}{direct:>12.2f}{through:>10.2f}{n / direct:>12.0f}{n / through:>14.0f}"
                f"{direct / through:>8.2f}{before:>8.1f}->{after:<7.1f}"
            )
        print(latencies())
        print(
            f"(N={n} per round, concurrency {concurrency}, queue {NOTIFY_VIDEO_OUTCOMES.name}; ratio = notify / direct)"
        )
    finally:
        await publisher.close()
        await connection.close()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    configure_logging("warning", "json", service="bench")
    asyncio.run(main(args.events, args.rounds))
