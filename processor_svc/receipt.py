"""The receipt of a stored result: tags on the result ZIP naming the upload event it answers and what it holds.

A job runs again for the same upload event when its acknowledgement or its outcome's confirm was lost (its broker
node died, or was cut off, after the ZIP was stored). With the receipt, that run publishes the stored result's
outcome instead of extracting and uploading the ZIP a second time. An operator's `replay --mode reprocess` still
extracts again. Without a receipt (an older ZIP, or a run that died between the upload and the tags), the job
simply runs: the ZIP is overwritten, as before."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fractions import Fraction

from servicekit.storage import Storage

UPLOAD_EVENT = "framepipe-upload-event"
FRAMES = "framepipe-frames"
DURATION = "framepipe-duration"
SIZE = "framepipe-size"
SHA256 = "framepipe-sha256"


@dataclass(frozen=True)
class Extracted:
    frames: int
    duration: Fraction
    stored_key: str
    size_bytes: int
    sha256: str


async def write_receipt(storage: Storage, upload_event: uuid.UUID, result: Extracted) -> None:
    await storage.tag(
        result.stored_key,
        {
            UPLOAD_EVENT: str(upload_event),
            FRAMES: str(result.frames),
            DURATION: f"{result.duration.numerator}/{result.duration.denominator}",
            SIZE: str(result.size_bytes),
            SHA256: result.sha256,
        },
    )


async def stored_result(storage: Storage, upload_event: uuid.UUID, key: str) -> Extracted | None:
    """The result stored under `key` for this very upload event, if there is one with its receipt."""
    tags = await storage.tags_of(key)
    if not tags or tags.get(UPLOAD_EVENT) != str(upload_event):
        return None
    try:
        return Extracted(
            frames=int(tags[FRAMES]),
            duration=Fraction(tags[DURATION]),
            stored_key=key,
            size_bytes=int(tags[SIZE]),
            sha256=tags[SHA256],
        )
    except (KeyError, ValueError, ZeroDivisionError):
        return None
