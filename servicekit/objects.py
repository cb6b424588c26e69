"""Where a video's objects live in the bucket: derived from its ids alone, never from a file name, and the same
for every service. A consumer acts only on keys that this layout derives from the event's own ids, so a forged
event (anyone holding broker credentials could publish one) cannot point a service at someone else's object."""

from __future__ import annotations

import uuid


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
