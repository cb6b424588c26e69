"""`framepipe replay`: send archived events again, to one consumer's queue (`--to-queue`) or to every subscriber
(`--to-exchange --yes-all-subscribers`). A dry run by default: counts by type, a sample and a manifest of the
event ids that would be sent. `--execute` sends, with confirms, at `--rate`, resumable with `--resume ID`.

Modes: `redeliver` (consumers' inboxes drop what they already handled) or `reprocess` (they handle it again)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

from aio_pika.abc import AbstractRobustConnection

from contracts.topology import QUEUES
from ops.bus.archive import ArchiveMissing, ArchiveReadLost, archive_end, starts_after_end
from ops.bus.audit import add_audit_argument, record_job
from ops.bus.broker import add_connection_argument, connect
from ops.bus.filters import add_filter_arguments, filter_from_args
from ops.bus.pacing import Progress, parse_rate
from ops.bus.replayer import RecentIds, ReplayCounts, Replayer, ReplayFailed
from ops.bus.replaystate import (
    DEFAULT_STATE_DIR,
    ReplayJob,
    ResumePoint,
    StateFile,
    Target,
    exchange_target,
    load_resume_point,
    new_replay_id,
    state_path,
)
from ops.bus.selection import as_row, matching_events, start_of
from ops.command import Subparsers, run_job
from servicekit.bus.connection import broker_user

MODES = ("redeliver", "reprocess")


class UsageError(Exception):
    """The command line asks for something unsafe or inconsistent."""


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("replay", help="send archived events again (dry run first)", description=__doc__)
    add_filter_arguments(parser)
    target = parser.add_argument_group("target")
    target.add_argument("--to-queue", metavar="QUEUE", help=f"one consumer's queue: {', '.join(QUEUES)}")
    target.add_argument("--to-exchange", action="store_true", help="the events exchange: every subscriber")
    target.add_argument("--yes-all-subscribers", action="store_true", help="confirm --to-exchange")
    job = parser.add_argument_group("job")
    job.add_argument("--mode", choices=MODES, default="redeliver", help="default: %(default)s")
    job.add_argument("--execute", action="store_true", help="send (without it: dry run)")
    job.add_argument("--reason", help="why (required with --execute; goes to the headers and the audit log)")
    job.add_argument("--rate", type=parse_rate, help="at most N events per second, e.g. 200/s")
    job.add_argument("--resume", metavar="REPLAY_ID", help="continue an interrupted job; skips what it sent")
    job.add_argument("--include-replayed", action="store_true", help="also send copies made by earlier replays")
    job.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="default: %(default)s")
    job.add_argument("--manifest", type=Path, help="dry run: where to list the event ids (default: in --state-dir)")
    job.add_argument("--sample", type=int, default=5, help="dry run: how many events to show")
    add_audit_argument(parser)
    add_connection_argument(parser)
    parser.set_defaults(handler=run, run_async=replay)


def target_from_args(args: argparse.Namespace) -> Target:
    if args.to_queue and args.to_exchange:
        raise UsageError("choose one target: --to-queue or --to-exchange")
    if args.to_queue:
        if args.to_queue not in QUEUES:
            raise UsageError(f"unknown queue {args.to_queue!r}; one of: {', '.join(QUEUES)}")
        return Target("queue", args.to_queue)
    if args.to_exchange:
        if not args.yes_all_subscribers:
            raise UsageError("--to-exchange sends to EVERY subscriber: add --yes-all-subscribers to confirm")
        return exchange_target()
    raise UsageError("a target is required: --to-queue QUEUE or --to-exchange --yes-all-subscribers")


async def plan_job(connection: AbstractRobustConnection, args: argparse.Namespace) -> ReplayJob:
    event_filter = filter_from_args(args)
    end = await archive_end(connection)
    if end is not None and starts_after_end(start_of(event_filter), end):
        end = None
    return ReplayJob(
        replay_id=new_replay_id(),
        event_filter=event_filter,
        target=target_from_args(args),
        mode=args.mode,
        reason=args.reason or "",
        rate=args.rate,
        end_offset=None if end is None else end.offset,
        include_replayed=args.include_replayed,
    )


async def dry_run(connection: AbstractRobustConnection, args: argparse.Namespace, out: IO[str]) -> dict[str, Any]:
    """Reads what would be sent and sends nothing."""
    job = await plan_job(connection, args)
    manifest = args.manifest or args.state_dir / f"{job.replay_id}.manifest.jsonl"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    by_type: Counter[str] = Counter()
    recent = RecentIds()
    sample: list[str] = []
    with manifest.open("w", encoding="utf-8") as listing:
        async for event in matching_events(connection, job.event_filter):
            facts = event.facts
            # The same skips as an execution: copies from earlier replays, an id seen just before.
            if (event.replay_id and not job.include_replayed) or recent.seen_before(facts.event_id):
                continue
            by_type[facts.event_type] += 1
            if len(sample) < args.sample:
                sample.append(as_row(event))
            line = {"event_id": facts.event_id, "type": facts.event_type, "subject": facts.subject}
            listing.write(json.dumps(line | {"offset": event.offset}) + "\n")
    print(f"DRY RUN: nothing was sent. Target: {job.target.describe()}, mode {job.mode}.", file=out)
    for event_type, count in sorted(by_type.items()):
        print(f"  {count:>8}  {event_type}", file=out)
    print(f"  {sum(by_type.values()):>8}  in total; manifest: {manifest}", file=out)
    for row in sample:
        print(f"  {row}", file=out)
    print("Add --execute --reason '…' to send.", file=out)
    return {"by_type": dict(by_type), "manifest": str(manifest)}


def load_resumable(args: argparse.Namespace) -> ResumePoint:
    path = state_path(args.state_dir, args.resume)
    if not path.exists():
        raise UsageError(f"no state for replay {args.resume!r} in {args.state_dir}")
    return load_resume_point(path)


async def execute(connection: AbstractRobustConnection, args: argparse.Namespace, out: IO[str]) -> ReplayCounts:
    resume = load_resumable(args) if args.resume else None
    if resume is None and not args.reason:
        raise UsageError("--execute needs --reason '…' (it goes to the message headers and the audit log)")
    job = resume.job if resume is not None else await plan_job(connection, args)
    if resume is not None and resume.finished:
        print(f"replay {job.replay_id} already finished; nothing to do", file=out)
        return ReplayCounts()
    audit = {"replay_id": job.replay_id, "resumed": resume is not None, **job.describe()}
    record_job(args.audit_log, "replay", status="started", **audit)
    state = StateFile(state_path(args.state_dir, job.replay_id), job, new=resume is None)
    progress = Progress(f"replay {job.replay_id}")
    replayer = Replayer(connection, job, state, resume, progress, user_id=broker_user(args.amqp_url))
    status = "interrupted"
    try:
        counts = await replayer.run()
        state.finished(counts.as_dict())
        status = "completed"
    except ReplayFailed:
        status = "failed"
        raise
    except ArchiveReadLost as exc:
        status = "failed"
        raise ReplayFailed(str(exc)) from None
    finally:
        state.close()
        record_job(args.audit_log, "replay", status=status, counts=replayer.counts.as_dict(), **audit)
        if status != "completed":
            print(f"replay {job.replay_id} {status}; continue with: --resume {job.replay_id}", file=sys.stderr)
    print(f"replay {job.replay_id}: sent {counts.sent} to {job.target.describe()} ({counts.as_dict()})", file=out)
    return counts


async def replay(args: argparse.Namespace, out: IO[str]) -> int:
    if not args.resume:
        target_from_args(args)  # refuse an unsafe target before touching the broker
    connection = await connect(args.amqp_url, "replay")
    try:
        if args.execute or args.resume:
            await execute(connection, args, out)
        else:
            await dry_run(connection, args, out)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
    return 0


def run(args: argparse.Namespace) -> int:
    return run_job("replay", replay(args, sys.stdout), {UsageError: 2, ArchiveMissing: 1, ReplayFailed: 1})
