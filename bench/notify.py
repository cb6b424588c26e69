"""notify_svc throughput and memory against the floor it cannot beat: aiosmtplib sending the same messages
straight to the same SMTP server.

One run measures, against one aiosmtpd server in its own process:
- baseline: the N messages notify would send (same templates, same sizes, built before the clock starts),
  sent with `aiosmtplib.send`, as many at once as notify has in flight (two batches of DB_POOL_MAX);
- notify_svc, running as deployed (`python -m notify_svc`, its own process): N outcome events
  (`video.processed.v1`) published to RabbitMQ and consumed: inbox, recipient lookup, rendering, SMTP,
  notification log, outbox, notification.sent.v1 — timed from the first publish to the last e-mail received;
and prints the throughput ratio per round and the median over the rounds (goal: >= 0.5), notify's RSS before and
after each round (flat), and where the machine's CPU went in each notify round (by process).

On a small machine the two rounds are CPU-bound, so the ratio is the ratio of whole-machine CPU per e-mail, and
neighbours' noise moves single rounds: read the median.

    .venv/bin/python bench/notify.py [--events 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._infra import (
    cpu_breakdown,
    cpu_by_process,
    cpu_seconds,
    machine_busy_seconds,
    processed,
    rss_mib,
    scratch_database,
    scratch_vhost,
    served,
    service_env,
)
from contracts import new_envelope
from contracts.events import UserRegisteredV1
from contracts.topology import NOTIFY_VIDEO_OUTCOMES
from notify_svc.emails import Sender, Templates, build_message, message_id_for
from notify_svc.settings import Settings
from ops.dev.localinfra import free_port, wait_for_port
from servicekit.bus import Publisher, connect, declare_topology
from servicekit.bus.batch import SLOTS
from servicekit.logging import configure_logging
from servicekit.tokens import generate_keypair

USERS = 50
PROCESS_GROUPS = {"notify_svc": "-m notify_svc", "smtp sink": "multiprocessing", "bench": "bench/notify.py"}
MAIL_FROM = Settings.model_fields["mail_from"].default
QUEUE = NOTIFY_VIDEO_OUTCOMES.name


async def latencies(metrics_url: str) -> str:
    """Mean SMTP time and mean handler time per outcome message, from the service's own histograms."""
    async with aiohttp.ClientSession() as session, session.get(metrics_url) as response:
        text = await response.text()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    wanted = {
        "notify_smtp_send_seconds": ("outcome", "sent"),
        "bus_handler_duration_seconds": ("queue", QUEUE),
        "bus_batch_size": ("queue", QUEUE),
    }
    for family in text_string_to_metric_families(text):
        label = wanted.get(family.name)
        for sample in family.samples:
            if label is None or sample.labels.get(label[0]) != label[1]:
                continue
            if sample.name.endswith("_sum"):
                sums[family.name] = sums.get(family.name, 0.0) + sample.value
            elif sample.name.endswith("_count"):
                counts[family.name] = counts.get(family.name, 0.0) + sample.value

    def mean(name: str) -> float:
        return sums.get(name, 0.0) / counts[name] if counts.get(name) else 0.0

    return (
        f"mean per outcome in notify: SMTP {1000 * mean('notify_smtp_send_seconds'):.1f} ms, "
        f"whole batch {1000 * mean('bus_handler_duration_seconds'):.1f} ms; "
        f"mean batch {mean('bus_batch_size'):.1f} outcomes"
    )


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


async def baseline(port: int, counter: Any, n: int, concurrency: int, users: dict[uuid.UUID, str]) -> float:
    templates, sender = Templates("en"), Sender.parse(MAIL_FROM)
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


async def notify_round(publisher: Publisher, dsn: str, counter: Any, n: int, owners: list[uuid.UUID]) -> float:
    start_count = counter.value
    events = [new_envelope(processed(owners[i % len(owners)]), source="framepipe/bench") for i in range(n)]
    started = time.perf_counter()
    for i in range(0, n, 100):
        await asyncio.gather(*(publisher.publish(e) for e in events[i : i + 100]))
    while counter.value - start_count < n:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    sent = 0
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(200):  # the last commits land just after the SMTP server accepted their messages
            sent = await conn.fetchval(
                "SELECT count(*) FROM notify.notifications WHERE status = 'sent' AND event_id = ANY($1::uuid[])",
                [e.id for e in events],
            )
            if sent == n:
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    await asyncio.sleep(0.5)
    assert counter.value - start_count == n, "a duplicate e-mail was sent"
    assert sent == n, f"{sent} of {n} notifications logged as sent"
    return elapsed


async def main(n: int, rounds: int, concurrency: int) -> None:
    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    counter = spawn.Value("l", 0)
    sink = spawn.Process(target=run_sink, args=(port, counter), daemon=True)
    sink.start()
    wait_for_port("127.0.0.1", port)
    try:
        with tempfile.TemporaryDirectory() as keys, scratch_vhost() as amqp_url:
            generate_keypair(Path(keys) / "private.pem", Path(keys) / "public", "bench")
            async with scratch_database() as dsn:
                http_port = free_port()
                env = service_env(
                    dsn,
                    amqp_url,
                    http_port,
                    keys,
                    SMTP_HOST="127.0.0.1",
                    SMTP_PORT=str(port),
                    DB_POOL_MAX=str(concurrency),  # the outcome consumer's largest batch
                )
                base = f"http://127.0.0.1:{http_port}"
                async with served([sys.executable, "-m", "notify_svc"], env, f"{base}/readyz") as pid:
                    await measure(n, rounds, concurrency, port, counter, dsn, amqp_url, pid, f"{base}/metrics")
    finally:
        sink.terminate()


async def measure(
    n: int, rounds: int, concurrency: int, port: int, counter: Any, dsn: str, amqp_url: str, pid: int, metrics_url: str
) -> None:
    users = {uuid.uuid4(): f"bench-{i}@example.com" for i in range(USERS)}
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
        await notify_round(publisher, dsn, counter, 100, list(users))  # warm-up: pools, channels, caches
        print(
            f"{'round':<8}{'baseline s':>12}{'notify s':>10}{'base msg/s':>12}{'notify msg/s':>14}{'ratio':>8}"
            f"{'notify RSS MiB':>20}{'CPU s':>8}"
        )
        ratios: list[float] = []
        for r in range(1, rounds + 1):
            busy = machine_busy_seconds()
            direct = await baseline(port, counter, n, SLOTS * concurrency, users)
            direct_busy = machine_busy_seconds() - busy
            before, cpu_before, busy = rss_mib(pid), cpu_seconds(pid), machine_busy_seconds()
            by_process = cpu_by_process(PROCESS_GROUPS)
            through = await notify_round(publisher, dsn, counter, n, list(users))
            after, cpu = rss_mib(pid), cpu_seconds(pid) - cpu_before
            through_busy = machine_busy_seconds() - busy
            ratios.append(direct / through)
            print(
                f"{r:<8}{direct:>12.2f}{through:>10.2f}{n / direct:>12.0f}{n / through:>14.0f}"
                f"{direct / through:>8.2f}{before:>12.1f}->{after:<7.1f}{cpu:>8.2f}"
            )
            print(
                f"        machine CPU s: baseline {direct_busy:.2f}, notify round {through_busy:.2f} "
                f"({cpu_breakdown(by_process, cpu_by_process(PROCESS_GROUPS))})"
            )
        print(f"median ratio {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
        print(await latencies(metrics_url))
        print(
            f"(N={n} per round; {SLOTS * concurrency} e-mails in flight on both sides: notify's {SLOTS} batches of up "
            f"to {concurrency}, the baseline's concurrent sends; ratio = notify / direct)"
        )
    finally:
        await publisher.close()
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Settings.model_fields["db_pool_max"].default,
        help="notify's DB_POOL_MAX, its outcome consumer's largest batch; the baseline sends two batches at once",
    )
    args = parser.parse_args()
    configure_logging("warning", "json", service="bench")
    asyncio.run(main(args.events, args.rounds, args.concurrency))
