"""`framepipe dlq` on messages parked by a real Consumer (and by the broker's delivery limit): list, show,
redrive back to the queue they died in with a fresh retry budget, purge; inspection keeps the order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts import UserRegisteredV1, VideoDeletedV1, new_envelope
from contracts.envelope import Envelope, amqp_headers, encode
from contracts.events import EventData
from contracts.topology import NOTIFY_USER_DIRECTORY, QUEUES, VIDEO_PROCESSING_UPDATES, QueueSpec
from ops.bus.dlq import Refused
from ops.bus.parking import scan
from servicekit.bus import Consumer, MessageContext, PermanentError, Publisher
from servicekit.bus.publisher import build_message
from tests.integration.ops.harness import framepipe
from tests.support.broker import depth, drain
from tests.support.polling import eventually

DIRECTORY = NOTIFY_USER_DIRECTORY


@dataclass
class Directory:
    """A stand-in for notify_svc's directory handler: refuses poisoned addresses until the cause is fixed."""

    fixed: bool = False
    handled: list[tuple[str, int]] = field(default_factory=list)

    async def on_registered(self, event: UserRegisteredV1, ctx: MessageContext) -> None:
        if event.email.startswith("poison") and not self.fixed:
            raise PermanentError(f"cannot store {event.email}: address rejected")
        self.handled.append((event.email, ctx.attempt))


def user(email: str) -> Envelope[EventData]:
    data = UserRegisteredV1(user_id=uuid.uuid4(), email=email, name=None, registered_at=datetime.now(UTC))
    return new_envelope(data, source="framepipe/auth_svc")


@pytest.fixture
async def directory(amqp: AbstractRobustConnection, publisher: Publisher) -> AsyncIterator[Directory]:
    async with amqp.channel() as channel:
        for name in (DIRECTORY.name, DIRECTORY.parking_queue):
            await (await channel.get_queue(name, ensure=False)).purge()
    directory = Directory()
    consumer = Consumer(amqp, DIRECTORY, {"auth.user.registered.v1": directory.on_registered}, publisher, service="t")
    await consumer.start()
    yield directory
    await consumer.stop()


async def park(amqp: AbstractRobustConnection, publisher: Publisher, count: int) -> list[Envelope[EventData]]:
    poisoned = [user(f"poison{i}-{uuid.uuid4().hex[:6]}@example.com") for i in range(count)]
    for envelope in poisoned:
        await publisher.publish(envelope)
    await eventually(lambda: parked_count(amqp, DIRECTORY.parking_queue, count))
    return poisoned


async def parked_count(amqp: AbstractRobustConnection, queue: str, expected: int) -> bool:
    return await depth(amqp, queue) == expected


async def parked_ids(amqp: AbstractRobustConnection, queue: str) -> list[str]:
    async with scan(amqp, queue) as parked:
        return [item.facts.event_id for item in parked]


async def test_list_shows_each_parking_queue_with_depth_age_and_reason(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, directory: Directory
) -> None:
    await park(amqp, publisher, 2)
    await asyncio.sleep(1.1)

    listing = await framepipe("dlq", "list", "--amqp-url", amqp_url)

    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert set(rows) == {spec.parking_queue for spec in QUEUES.values()}
    row = rows[DIRECTORY.parking_queue]
    assert row[1] == "2"
    assert row[2].endswith("s")
    assert int(row[2].rstrip("s")) >= 1
    assert row[3:] == ["permanent_error", "2"]
    assert rows[VIDEO_PROCESSING_UPDATES.parking_queue][1:3] == ["0", "-"]


async def test_show_explains_why_and_inspection_keeps_the_order(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, directory: Directory
) -> None:
    poisoned = await park(amqp, publisher, 3)
    order = await parked_ids(amqp, DIRECTORY.parking_queue)
    assert order == [str(e.id) for e in poisoned]

    shown = await framepipe("dlq", "show", DIRECTORY.name, "--json", "--amqp-url", amqp_url)
    await framepipe("dlq", "list", "--amqp-url", amqp_url)

    items = [json.loads(line) for line in shown.splitlines()]
    assert [item["event_id"] for item in items] == order
    first = items[0]
    assert first["type"] == "auth.user.registered.v1"
    assert first["subject"] == poisoned[0].subject
    assert first["reason"] == "permanent_error"
    assert first["count"] == 1
    assert first["failed_queue"] == DIRECTORY.name
    assert "address rejected" in first["first_error"]
    assert await parked_ids(amqp, DIRECTORY.parking_queue) == order
    assert await depth(amqp, DIRECTORY.parking_queue) == 3


async def test_redrive_dry_run_moves_nothing_and_execute_moves_the_chosen_message_with_a_fresh_budget(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, directory: Directory, tmp_path: Path
) -> None:
    poisoned = await park(amqp, publisher, 3)
    audit = tmp_path / "audit.jsonl"
    chosen = str(poisoned[1].id)
    common = ["--event-id", chosen, "--audit-log", str(audit), "--amqp-url", amqp_url]

    dry = await framepipe("dlq", "redrive", DIRECTORY.name, *common)
    assert "1 message(s) would be redriven" in dry
    assert await depth(amqp, DIRECTORY.parking_queue) == 3
    assert not audit.exists()

    directory.fixed = True  # the cause is removed
    await framepipe("dlq", "redrive", DIRECTORY.parking_queue, *common, "--execute", "--reason", "fixed")

    await eventually(lambda: len(directory.handled) == 1)
    assert directory.handled == [(poisoned[1].data.email, 1)]  # type: ignore[attr-defined]
    assert await parked_ids(amqp, DIRECTORY.parking_queue) == [str(poisoned[0].id), str(poisoned[2].id)]
    (record,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert record["job"] == "dlq-redrive"
    assert record["counts"] == {"redriven": 1}
    assert record["target"] == {"kind": "queue", "name": DIRECTORY.name}

    await framepipe("dlq", "redrive", DIRECTORY.name, "--execute", "--audit-log", str(audit), "--amqp-url", amqp_url)
    await eventually(lambda: len(directory.handled) == 3)
    assert await depth(amqp, DIRECTORY.parking_queue) == 0


async def test_a_rate_limited_redrive_spaces_the_messages_out(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, directory: Directory, tmp_path: Path
) -> None:
    count, rate = 9, 20.0
    await park(amqp, publisher, count)
    directory.fixed = True
    audit = tmp_path / "audit.jsonl"
    started = time.monotonic()
    await framepipe(
        "dlq", "redrive", DIRECTORY.name, "--execute", "--reason", "paced", "--rate", f"{rate:g}/s",
        "--audit-log", str(audit), "--amqp-url", amqp_url,
    )  # fmt: skip
    took = time.monotonic() - started
    expected = (count - 1) / rate  # the first message goes at once
    assert expected * 0.9 <= took <= expected * 1.1 + 2.0, took  # plus connecting and scanning
    await eventually(lambda: len(directory.handled) == count)
    (record,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert record["rate"] == rate
    assert record["counts"] == {"redriven": count}


async def test_a_message_dead_lettered_by_the_broker_is_explained_and_redriven(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, tmp_path: Path
) -> None:
    spec: QueueSpec = VIDEO_PROCESSING_UPDATES
    data = VideoDeletedV1(video_id=uuid.uuid4(), owner_id=uuid.uuid4(), deleted_at=datetime.now(UTC))
    async with amqp.channel() as channel:
        for name in (spec.name, spec.parking_queue):
            await (await channel.get_queue(name, ensure=False)).purge()
    envelope = new_envelope(data, source="framepipe/tests")
    message = build_message(encode(envelope), str(envelope.id), envelope.type, amqp_headers(envelope))
    await publisher.send_to("", spec.name, message)
    for _ in range(spec.delivery_limit + 1):  # a consumer that keeps dying with the message
        async with amqp.channel() as channel:
            queue = await channel.get_queue(spec.name, ensure=False)
            held = await eventually(lambda q=queue: q.get(fail=False))
            await held.nack(requeue=True)
    await eventually(lambda: parked_count(amqp, spec.parking_queue, 1))

    (item,) = [json.loads(line) for line in (await framepipe("dlq", "show", spec.name, "--json", "--amqp-url",
                                                             amqp_url)).splitlines()]  # fmt: skip
    assert item["reason"] == "delivery_limit"
    assert item["count"] >= 1
    assert item["failed_queue"] == spec.name

    await framepipe(
        "dlq", "redrive", spec.name, "--execute", "--audit-log", str(tmp_path / "a"), "--amqp-url", amqp_url
    )
    (back,) = await drain(amqp, spec.name, 1)
    assert back.message_id == str(envelope.id)
    assert "x-death" not in back.headers
    assert back.headers["x-framepipe-redrives"] == 1
    assert await depth(amqp, spec.parking_queue) == 0


async def test_purge_needs_yes_and_then_empties_the_parking_queue_with_an_audit_record(
    amqp_url: str, amqp: AbstractRobustConnection, publisher: Publisher, directory: Directory, tmp_path: Path
) -> None:
    await park(amqp, publisher, 2)
    audit = tmp_path / "audit.jsonl"

    with pytest.raises(Refused, match="holds 2 message"):
        await framepipe("dlq", "purge", DIRECTORY.name, "--audit-log", str(audit), "--amqp-url", amqp_url)
    assert await depth(amqp, DIRECTORY.parking_queue) == 2

    await framepipe("dlq", "purge", DIRECTORY.name, "--yes", "--audit-log", str(audit), "--amqp-url", amqp_url)

    assert await depth(amqp, DIRECTORY.parking_queue) == 0
    (record,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert record["job"] == "dlq-purge"
    assert record["counts"] == {"purged": 2}
