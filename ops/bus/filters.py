"""Which events an operator means: the filters shared by `framepipe events`, `replay` and `dlq`, matched against
the CloudEvents headers every message carries (`ce-type`, `ce-subject`, …), with the body as a fallback."""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 timestamp (UTC when no offset is given) or a duration back from now (`90s`, `2h`, `7d`)."""
    match = _DURATION.match(text.strip())
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a timestamp or a duration like 2h: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EventFacts:
    """What the filters look at, taken from one message."""

    event_id: str
    event_type: str
    subject: str
    correlation_id: str
    time: datetime | None


def facts_of(headers: Mapping[str, Any], body: bytes) -> EventFacts:
    """Headers first (cheap); the body only when a producer left them out."""
    if "ce-id" in headers and "ce-type" in headers:
        return EventFacts(
            event_id=str(headers["ce-id"]),
            event_type=str(headers["ce-type"]),
            subject=str(headers.get("ce-subject", "")),
            correlation_id=str(headers.get("ce-correlationid", "")),
            time=_time(headers.get("ce-time")),
        )
    try:
        raw = json.loads(body)
    except ValueError:
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    return EventFacts(
        event_id=str(raw.get("id", "")),
        event_type=str(raw.get("type", "")),
        subject=str(raw.get("subject", "")),
        correlation_id=str(raw.get("correlationid", "")),
        time=_time(raw.get("time")),
    )


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class EventFilter:
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    subjects: tuple[str, ...] = ()
    correlation_id: str | None = None
    event_ids: tuple[str, ...] = ()

    def matches(self, facts: EventFacts) -> bool:
        if self.types and not any(fnmatch.fnmatchcase(facts.event_type, glob) for glob in self.types):
            return False
        if self.subjects and facts.subject not in self.subjects:
            return False
        if self.correlation_id is not None and facts.correlation_id != self.correlation_id:
            return False
        if self.event_ids and facts.event_id not in self.event_ids:
            return False
        if self.since is not None and (facts.time is None or facts.time < self.since):
            return False
        return not (self.until is not None and (facts.time is None or facts.time > self.until))

    def describe(self) -> dict[str, Any]:
        """For audit records and state files: only the filters that were given, times as ISO strings."""
        described = {key: value for key, value in asdict(self).items() if value not in (None, ())}
        for key in ("since", "until"):
            if key in described:
                described[key] = described[key].isoformat()
        return described

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> EventFilter:
        return cls(
            types=tuple(described.get("types", ())),
            since=_time(described.get("since")),
            until=_time(described.get("until")),
            subjects=tuple(described.get("subjects", ())),
            correlation_id=described.get("correlation_id"),
            event_ids=tuple(described.get("event_ids", ())),
        )


def add_filter_arguments(parser: argparse.ArgumentParser, *, times: bool = True) -> None:
    group = parser.add_argument_group("filters")
    group.add_argument(
        "--type", dest="types", action="append", default=[], metavar="GLOB", help="event type glob (repeatable)"
    )
    if times:
        group.add_argument("--since", type=parse_moment, help="event time from (timestamp or duration like 2h)")
        group.add_argument("--until", type=parse_moment, help="event time up to (timestamp or duration)")
    group.add_argument(
        "--subject", dest="subjects", action="append", default=[], metavar="ID", help="video or user id (repeatable)"
    )
    group.add_argument("--correlation-id", help="every event of one user request")
    group.add_argument(
        "--event-id", dest="event_ids", action="append", default=[], metavar="ID", help="event id (repeatable)"
    )


def filter_from_args(args: argparse.Namespace) -> EventFilter:
    return EventFilter(
        types=tuple(args.types),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        subjects=tuple(args.subjects),
        correlation_id=args.correlation_id,
        event_ids=tuple(args.event_ids),
    )
