"""The pure parts of the operator tooling: time and rate parsing, event filters, the token bucket's pace,
the bounded duplicate window, and which queue a parking queue's messages died in."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import pytest

from ops.bus.filters import EventFacts, EventFilter, facts_of, parse_moment
from ops.bus.pacing import TokenBucket, parse_rate
from ops.bus.parking import UnknownQueue, origin_queue
from ops.bus.replayer import RecentIds

NOW = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)


def facts(event_type: str = "video.uploaded.v1", *, subject: str = "v1", at: datetime = NOW) -> EventFacts:
    return EventFacts(event_id="e1", event_type=event_type, subject=subject, correlation_id="c1", time=at)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("90s", NOW - timedelta(seconds=90)),
        ("7d", NOW - timedelta(days=7)),
        ("2030-01-01T10:00:00Z", datetime(2030, 1, 1, 10, tzinfo=UTC)),
        ("2030-01-01T10:00:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
        ("2030-01-01T12:00:00+02:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_a_moment_is_a_timestamp_or_a_duration_back_from_now(text: str, expected: datetime) -> None:
    assert parse_moment(text, now=NOW) == expected


def test_a_moment_that_is_neither_is_refused_with_a_usage_message() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration like 2h"):
        parse_moment("yesterday")


@pytest.mark.parametrize(("text", "rate"), [("200/s", 200.0), ("50", 50.0), ("600/m", 10.0), ("0.5/s", 0.5)])
def test_a_rate_is_per_second(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0/s", "-3", "fast", "10/y"])
def test_a_rate_that_is_not_positive_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_rate(text)


def test_type_globs_match_any_of_several() -> None:
    only_outcomes = EventFilter(types=("video.processed.*", "video.failed.*"))
    assert only_outcomes.matches(facts("video.failed.v1"))
    assert not only_outcomes.matches(facts("video.processing.progress.v1"))


def test_subject_and_time_window_must_all_match() -> None:
    window = EventFilter(subjects=("v1",), since=NOW - timedelta(minutes=1), until=NOW)
    assert window.matches(facts())
    assert not window.matches(facts(subject="v2"))
    assert not window.matches(facts(at=NOW + timedelta(seconds=1)))
    assert not window.matches(facts(at=NOW - timedelta(minutes=2)))


def test_a_filter_survives_the_round_trip_through_a_state_file() -> None:
    original = EventFilter(types=("auth.*",), since=NOW, subjects=("u1", "u2"), event_ids=("a", "b"))
    assert EventFilter.from_description(original.describe()) == original


def test_facts_come_from_the_body_when_a_producer_left_the_headers_out() -> None:
    body = b'{"id": "e9", "type": "video.deleted.v1", "subject": "v9", "correlationid": "c9", '
    body += b'"time": "2030-01-02T12:00:00Z"}'
    found = facts_of({}, body)
    assert (found.event_id, found.event_type, found.subject) == ("e9", "video.deleted.v1", "v9")
    assert found.correlation_id == "c9"
    assert found.time == NOW
    assert facts_of({}, b"{not json").event_type == ""


async def test_the_token_bucket_paces_without_an_initial_burst() -> None:
    bucket = TokenBucket(rate=50.0)
    started = time.monotonic()
    for _ in range(26):
        await bucket.take()
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed <= 0.75  # 25 intervals of 20 ms after the first token


def test_the_duplicate_window_forgets_the_oldest_ids_beyond_its_size() -> None:
    recent = RecentIds(size=2)
    assert not recent.seen_before("a")
    assert recent.seen_before("a")
    assert not recent.seen_before("b")
    assert not recent.seen_before("c")
    assert not recent.seen_before("a")  # forgotten: memory stays bounded


def test_a_parking_queue_names_the_queue_its_messages_died_in() -> None:
    assert origin_queue("processor.video-uploaded.dlq") == "processor.video-uploaded"
    assert origin_queue("notify.user-directory") == "notify.user-directory"
    with pytest.raises(UnknownQueue):
        origin_queue("framepipe.archive")
