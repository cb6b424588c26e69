"""`framepipe dlq`: the parking queues. `list` (depth and oldest message age of each), `show QUEUE` (why each
message is there), `redrive QUEUE [filters] [--execute] [--rate N/s]` (back to the queue it died in, with a
fresh retry budget) and `purge QUEUE --yes`. Redrive and purge are audited."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections import Counter
from datetime import timedelta
from typing import IO, Any

from aio_pika.abc import AbstractRobustConnection

from contracts.topology import QUEUES
from ops.bus.audit import add_audit_argument, record_job
from ops.bus.broker import add_connection_argument, connect
from ops.bus.filters import add_filter_arguments, filter_from_args
from ops.bus.pacing import TokenBucket, parse_rate
from ops.bus.parking import ParkedMessage, UnknownQueue, depth, origin_queue, redrive_copy, scan
from ops.bus.replaystate import new_replay_id
from ops.command import Subparsers
from servicekit.bus import Publisher, PublishError


class Refused(Exception):
    """The operator did not confirm a destructive action."""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("dlq", help="inspect, redrive and purge parking queues", description=__doc__)
    commands = parser.add_subparsers(title="dlq commands", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="every parking queue with its depth and oldest message age")
    listing.set_defaults(handler=run, run_async=dlq, action=list_parking)
    show = commands.add_parser("show", help="the parked messages of one queue and why they are there")
    show.add_argument("queue")
    show.add_argument("--limit", type=int, default=50)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run, run_async=dlq, action=show_parked)
    redrive = commands.add_parser("redrive", help="move parked messages back to the queue they died in")
    redrive.add_argument("queue")
    add_filter_arguments(redrive)
    redrive.add_argument("--death-reason", help="only messages parked for this reason (e.g. retries_exhausted)")
    redrive.add_argument("--limit", type=int, default=None, help="at most this many messages")
    redrive.add_argument(
        "--rate", type=parse_rate, help="at most N messages per second, e.g. 50/s (spare a consumer just fixed)"
    )
    redrive.add_argument("--execute", action="store_true", help="move them (without it: dry run)")
    redrive.add_argument("--reason", help="why (goes to the audit log)")
    redrive.set_defaults(handler=run, run_async=dlq, action=redrive_parked)
    purge = commands.add_parser("purge", help="delete every message of a parking queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="confirm: the messages are gone for good")
    purge.set_defaults(handler=run, run_async=dlq, action=purge_parked)
    for sub in (listing, show, redrive, purge):
        add_connection_argument(sub)
    for sub in (redrive, purge):
        add_audit_argument(sub)


def _age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400}d{seconds % 86400 // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60}s"
    return f"{seconds}s"


async def list_parking(connection: AbstractRobustConnection, args: argparse.Namespace, out: IO[str]) -> int:
    print(f"{'PARKING QUEUE':<34}  {'DEPTH':>6}  {'OLDEST':>8}  REASONS", file=out)
    for spec in QUEUES.values():
        async with scan(connection, spec.parking_queue) as parked:
            ages = [age for age in (p.age() for p in parked) if age is not None]
            reasons = Counter(p.reason for p in parked)
        summary = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
        oldest = _age(max(ages)) if ages else "-"
        print(f"{spec.parking_queue:<34}  {len(parked):>6}  {oldest:>8}  {summary}", file=out)
    return 0


def describe(parked: ParkedMessage) -> dict[str, Any]:
    facts = parked.facts
    age = parked.age()
    return {
        "event_id": facts.event_id,
        "type": facts.event_type,
        "subject": facts.subject,
        "reason": parked.reason,
        "count": parked.count,
        "failed_queue": parked.failed_queue,
        "first_error": parked.first_error,
        "error": parked.error,
        "age_seconds": None if age is None else int(age.total_seconds()),
    }


async def show_parked(connection: AbstractRobustConnection, args: argparse.Namespace, out: IO[str]) -> int:
    parking_queue = origin_queue(args.queue) + ".dlq"
    async with scan(connection, parking_queue) as parked:
        shown = [describe(p) for p in parked[: args.limit]]
        total = len(parked)
    for item in shown:
        if args.json:
            print(json.dumps(item), file=out)
            continue
        print(f"{item['type']}  subject {item['subject']}  event {item['event_id']}", file=out)
        print(f"    reason {item['reason']} (count {item['count']}) in {item['failed_queue']}", file=out)
        print(f"    first error: {item['first_error'] or '-'}", file=out)
        if item["error"] and item["error"] != item["first_error"]:
            print(f"    last error:  {item['error']}", file=out)
    print(f"{total} parked message(s) in {parking_queue}; showing {len(shown)}", file=sys.stderr)
    return 0


async def redrive_parked(connection: AbstractRobustConnection, args: argparse.Namespace, out: IO[str]) -> int:
    origin = origin_queue(args.queue)
    redrive_id = new_replay_id()
    moved: Counter[str] = Counter()
    status = "failed"
    try:
        await _redrive(connection, args, origin, redrive_id, moved)
        status = "completed"
    finally:
        if args.execute:
            record_job(
                args.audit_log, "dlq-redrive", status=status, redrive_id=redrive_id, queue=origin + ".dlq",
                target={"kind": "queue", "name": origin}, filters=filter_from_args(args).describe(),
                death_reason=args.death_reason, reason=args.reason, rate=args.rate,
                counts={"redriven": sum(moved.values())},
            )  # fmt: skip
    verb = "redriven" if args.execute else "would be redriven (dry run: add --execute)"
    print(f"{sum(moved.values())} message(s) {verb} to {origin}: {dict(moved)}", file=out)
    return 0


async def _redrive(
    connection: AbstractRobustConnection, args: argparse.Namespace, origin: str, redrive_id: str, moved: Counter[str]
) -> None:
    event_filter = filter_from_args(args)
    bucket = TokenBucket(args.rate) if args.rate and args.execute else None
    publisher = Publisher(connection, "framepipe-ops", timeout=30)
    await publisher.start()
    try:
        async with scan(connection, origin + ".dlq") as parked:
            for item in parked:
                if args.limit is not None and sum(moved.values()) >= args.limit:
                    break
                if not event_filter.matches(item.facts) or args.death_reason not in (None, item.reason):
                    continue
                if args.execute:
                    if bucket is not None:
                        await bucket.take()
                    # The copy is confirmed before the parked message is acked: a crash in between duplicates,
                    # never loses, and the consumer's inbox drops the duplicate.
                    await publisher.send_to("", origin, redrive_copy(item, redrive_id))
                    await item.message.ack()
                moved[item.facts.event_type] += 1
    finally:
        await publisher.close()


async def purge_parked(connection: AbstractRobustConnection, args: argparse.Namespace, out: IO[str]) -> int:
    parking_queue = origin_queue(args.queue) + ".dlq"
    async with connection.channel() as channel:
        count = await depth(channel, parking_queue)
        if not args.yes:
            raise Refused(f"{parking_queue} holds {count} message(s); add --yes to delete them for good")
        queue = await channel.get_queue(parking_queue, ensure=False)
        result = await queue.purge()
    purged = int(getattr(result, "message_count", count) or 0)
    record_job(args.audit_log, "dlq-purge", status="completed", queue=parking_queue, counts={"purged": purged})
    print(f"purged {purged} message(s) from {parking_queue}", file=out)
    return 0


async def dlq(args: argparse.Namespace, out: IO[str]) -> int:
    connection = await connect(args.amqp_url, "dlq")
    try:
        code: int = await args.action(connection, args, out)
        return code
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(dlq(args, sys.stdout))
    except (UnknownQueue, Refused) as exc:
        print(f"framepipe dlq: {exc}", file=sys.stderr)
        return 2
    except PublishError as exc:
        print(f"framepipe dlq: redrive stopped, the rest stays parked: {exc}", file=sys.stderr)
        return 1
