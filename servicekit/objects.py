"""Where a video's objects live in the bucket: derived from its ids alone, never from a file name, and the same
for every service. A consumer acts only on keys that this layout derives from the event's own ids, so a forged
event (anyone holding broker credentials could publish one) cannot point a service at someone else's object."""

from __future__ import annotations

import uuid

from contracts import MAX_SEGMENTS


def source_key(owner_id: uuid.UUID, video_id: uuid.UUID) -> str:
    return f"sources/{owner_id}/{video_id}"


def result_key(video_id: uuid.UUID) -> str:
    return f"results/{video_id}.zip"  # deterministic: a retry overwrites, never duplicates


def preview_key(video_id: uuid.UUID, number: int) -> str:
    # Under results/: the prefix the processor may write and the bucket's lifecycle expires with the ZIPs.
    return f"{_previews_of(video_id)}{number}.jpg"


def _previews_of(video_id: uuid.UUID) -> str:
    return f"results/previews/{video_id}/"


def is_preview_of(video_id: uuid.UUID, key: str) -> bool:
    number = key.removeprefix(_previews_of(video_id)).removesuffix(".jpg")
    return key.startswith(_previews_of(video_id)) and number.isdigit() and key == preview_key(video_id, int(number))


def _segments_of(video_id: uuid.UUID) -> str:
    # Under results/ too: written by the processor only, and expired with the ZIPs if a run never finished.
    return f"results/segments/{video_id}/"


def segment_plan_key(video_id: uuid.UUID) -> str:
    """What a long video's extraction was split into (processor_svc/fanout.py)."""
    return f"{_segments_of(video_id)}plan.json"


def segment_key(video_id: uuid.UUID, index: int) -> str:
    """The frames one segment made, as a ZIP of its own until they are gathered into the video's."""
    return f"{_segments_of(video_id)}{index:02d}.zip"


def assembly_claim_key(video_id: uuid.UUID) -> str:
    """Created once, by the one worker that gathers the segments: whoever else finds every segment stored too
    leaves the gathering to it."""
    return f"{_segments_of(video_id)}assembly"


def segment_keys(video_id: uuid.UUID) -> list[str]:
    """Every key a split extraction may have written (no listing needed: the services may not list the bucket)."""
    parts = [segment_key(video_id, index) for index in range(MAX_SEGMENTS)]
    return [segment_plan_key(video_id), assembly_claim_key(video_id), *parts]
