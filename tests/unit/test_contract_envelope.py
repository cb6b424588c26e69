"""Envelope decoding: strict about what matters, tolerant of additive evolution."""

from __future__ import annotations

import gc
import json
import weakref

import pytest

from contracts import EVENT_TYPES, MalformedEvent, VideoDeletedV1, VideoUploadedV1, decode, encode, new_envelope
from contracts.events import NotificationSentV1
from contracts.examples import example, example_envelope
from contracts.topology import PROCESSOR_VIDEO_UPLOADED, QueueSpec


def test_a_consumer_tolerates_fields_it_does_not_know_in_the_envelope_and_in_data() -> None:
    body = json.loads(encode(example_envelope("video.uploaded.v1")))
    body["traceparent"] = "00-abc-def-01"
    body["data"]["thumbnail_hint"] = "added in a later minor version"
    envelope = decode(json.dumps(body))
    assert isinstance(envelope.data, VideoUploadedV1)
    assert envelope.data.filename == body["data"]["filename"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(type="video.exploded.v1"),
        lambda b: b["data"].pop("video_id"),
        lambda b: b["data"].update(size_bytes=-1),
        lambda b: b.update(specversion="0.3"),
        lambda b: b.update(time="yesterday"),
        lambda b: b["data"]["options"].update(image_format="gif"),
    ],
    ids=["unknown-type", "missing-field", "negative-size", "wrong-specversion", "bad-time", "bad-enum"],
)
def test_an_invalid_envelope_is_malformed(mutate: object) -> None:
    body = json.loads(encode(example_envelope("video.uploaded.v1")))
    mutate(body)  # type: ignore[operator]
    with pytest.raises(MalformedEvent):
        decode(json.dumps(body))


def test_bytes_that_are_not_json_are_malformed() -> None:
    with pytest.raises(MalformedEvent):
        decode(b"\x00\xff not json")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_the_subject_is_the_aggregate_the_event_is_about(event_type: str) -> None:
    envelope = example_envelope(event_type)
    assert envelope.subject == envelope.data.subject()
    assert envelope.type == event_type
    assert envelope.dataschema.endswith(event_type)


def test_retry_tiers_grow_with_attempts_and_stay_on_the_last_tier() -> None:
    spec = QueueSpec(name="q", owner="tests", retry_delays_ms=(10, 20, 30))
    assert [spec.retry_tier(attempt) for attempt in range(1, 6)] == [0, 1, 2, 2, 2]
    assert spec.retry_queue(1) == "q.retry.1"
    assert spec.parking_queue == "q.dlq"


def test_every_queue_has_an_explicit_delivery_limit_and_a_bounded_number_of_attempts() -> None:
    assert PROCESSOR_VIDEO_UPLOADED.delivery_limit > 0
    assert PROCESSOR_VIDEO_UPLOADED.max_attempts > 1


def test_the_envelope_class_of_an_event_type_outlives_a_full_garbage_collection() -> None:
    # pydantic keeps `Envelope[Model]` only weakly; rebuilding it after every full collection cost ~2 ms a message.
    made = weakref.ref(type(new_envelope(example(NotificationSentV1), source="framepipe/tests")))
    decoded = weakref.ref(type(decode(encode(new_envelope(example(VideoDeletedV1), source="framepipe/tests")))))
    gc.collect()
    assert made() is not None
    assert decoded() is not None
