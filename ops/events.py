"""`framepipe events`: what happened, read from the archive. Filters by type, time, subject, correlation or event
id; prints a table or JSON lines; `--follow` keeps tailing new events."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from aio_pika.abc import AbstractRobustConnection

from ops.archive import (
    ArchivedEvent,
    ArchiveMissing,
    ArchiveReadLost,
    StreamOffset,
    archive_end,
    read_archive,
    starts_after_end,
)
from ops.broker import add_connection_argument, connect
from ops.filters import EventFilter, add_filter_arguments, filter_from_args

if TYPE_CHECKING:
    from ops.cli import Subparsers

IDLE_TIMEOUT = 10.0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("events", help="read events from the archive", description=__doc__)
    add_filter_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events as they arrive")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many matching events")
    add_connection_argument(parser)
    parser.set_defaults(handler=run, run_async=print_events)


def start_of(event_filter: EventFilter) -> StreamOffset:
    """Where the broker starts reading: from `--since` (its append time is never before the event's own time,
    so no matching event is skipped), else from the first message kept."""
    return event_filter.since if event_filter.since is not None else "first"


async def matching_events(
    connection: AbstractRobustConnection, event_filter: EventFilter, *, follow: bool = False
) -> AsyncGenerator[ArchivedEvent, None]:
    """Every archived event the filter matches, from its start up to the end the archive had when called
    (or on, with `follow`)."""
    start = start_of(event_filter)
    if follow:
        reader = read_archive(connection, start)
    else:
        end = await archive_end(connection)
        if end is None or starts_after_end(start, end):
            return
        reader = read_archive(connection, start, end_offset=end.offset, idle_timeout=IDLE_TIMEOUT)
    async with contextlib.aclosing(reader) as archived:
        async for event in archived:
            if event_filter.matches(event.facts):
                yield event


def as_json(event: ArchivedEvent) -> str:
    try:
        body: Any = json.loads(event.body)
    except ValueError:
        body = event.body.decode(errors="replace")
    record = {"offset": event.offset, "event": body}
    if event.replay_id:
        record["replay_id"] = event.replay_id
    return json.dumps(record, separators=(",", ":"), default=str)


def _time(moment: datetime | None) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else "-"


TABLE_HEADER = f"{'TIME':<24}  {'TYPE':<28}  {'SUBJECT':<36}  {'EVENT ID':<36}  CORRELATION"


def as_row(event: ArchivedEvent) -> str:
    facts = event.facts
    row = f"{_time(facts.time):<24}  {facts.event_type:<28}  {facts.subject:<36}  {facts.event_id:<36}  "
    row += facts.correlation_id
    return row + (f"  (replay {event.replay_id})" if event.replay_id else "")


async def print_events(args: argparse.Namespace, out: IO[str]) -> int:
    connection = await connect(args.amqp_url, "events")
    printed = 0
    try:
        if not args.json:
            print(TABLE_HEADER, file=out, flush=True)
        found = matching_events(connection, filter_from_args(args), follow=args.follow)
        async with contextlib.aclosing(found) as events:
            async for event in events:
                print(as_json(event) if args.json else as_row(event), file=out, flush=args.follow)
                printed += 1
                if args.limit is not None and printed >= args.limit:
                    break
    finally:
        await connection.close()
    if not args.json:
        print(f"{printed} event(s)", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(print_events(args, sys.stdout))
    except (ArchiveMissing, ArchiveReadLost) as exc:
        print(f"framepipe events: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
