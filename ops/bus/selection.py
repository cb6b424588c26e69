"""Which archived events a filter selects, read the same way by `framepipe events`, a replay's dry run and its
execution, and the one line each of those commands prints for an event."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

from aio_pika.abc import AbstractRobustConnection

from ops.bus.archive import ArchivedEvent, StreamOffset, archive_end, read_archive, starts_after_end
from ops.bus.filters import EventFilter

IDLE_TIMEOUT = 10.0


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


def _time(moment: datetime | None) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else "-"


TABLE_HEADER = f"{'TIME':<24}  {'TYPE':<28}  {'SUBJECT':<36}  {'EVENT ID':<36}  CORRELATION"


def as_row(event: ArchivedEvent) -> str:
    facts = event.facts
    row = f"{_time(facts.time):<24}  {facts.event_type:<28}  {facts.subject:<36}  {facts.event_id:<36}  "
    row += facts.correlation_id
    return row + (f"  (replay {event.replay_id})" if event.replay_id else "")
