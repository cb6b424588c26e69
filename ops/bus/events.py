"""`framepipe events`: what happened, read from the archive. Filters by type, time, subject, correlation or event
id; prints a table or JSON lines; `--follow` keeps tailing new events."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import IO, Any

from ops.bus.archive import ArchivedEvent, ArchiveMissing, ArchiveReadLost
from ops.bus.broker import add_connection_argument, connect
from ops.bus.filters import add_filter_arguments, filter_from_args
from ops.bus.selection import TABLE_HEADER, as_row, matching_events
from ops.command import Subparsers, run_job


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("events", help="read events from the archive", description=__doc__)
    add_filter_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events as they arrive")
    parser.add_argument("--limit", type=int, default=None, help="stop after this many matching events")
    add_connection_argument(parser)
    parser.set_defaults(handler=run, run_async=print_events)


def as_json(event: ArchivedEvent) -> str:
    try:
        body: Any = json.loads(event.body)
    except ValueError:
        body = event.body.decode(errors="replace")
    record = {"offset": event.offset, "event": body}
    if event.replay_id:
        record["replay_id"] = event.replay_id
    return json.dumps(record, separators=(",", ":"), default=str)


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
    return run_job("events", print_events(args, sys.stdout), {ArchiveMissing: 1, ArchiveReadLost: 1})
