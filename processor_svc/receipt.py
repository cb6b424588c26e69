"""The receipt of a stored result: tags on the result ZIP naming the upload event it answers and what it holds.

A job runs again for the same upload event when its acknowledgement or its outcome's confirm was lost (its broker
node died, or was cut off, after the ZIP was stored). With the receipt, that run publishes the stored result's
outcome instead of extracting and uploading the ZIP a second time. An operator's `replay --mode reprocess` still
extracts again.

The upload event's id is a tag of the ZIP from its creation, so no stored ZIP lacks it, even when the job was cut
off while S3 was completing the upload. What it holds (frames, duration, size, SHA-256) is tagged once the upload
returned; a ZIP without those (its job cut off in between) is read back once to learn them. A ZIP without any
receipt (stored before receipts existed) is simply made again."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
import zipfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from processor_svc.archive import MANIFEST_NAME
from processor_svc.previews import PREVIEW_COUNT
from servicekit.objects import preview_key
from servicekit.storage import Storage, StoredObject

UPLOAD_EVENT = "framepipe-upload-event"
FRAMES = "framepipe-frames"
DURATION = "framepipe-duration"
SIZE = "framepipe-size"
SHA256 = "framepipe-sha256"
PREVIEWS = "framepipe-previews"  # how many preview images were stored (their keys follow from the video id)


@dataclass(frozen=True)
class Extracted:
    frames: int
    duration: Fraction
    stored_key: str
    size_bytes: int
    sha256: str
    previews: tuple[str, ...] = ()


def creation_tags(upload_event: uuid.UUID) -> dict[str, str]:
    """The tags a result ZIP is created with."""
    return {UPLOAD_EVENT: str(upload_event)}


async def write_receipt(storage: Storage, upload_event: uuid.UUID, result: Extracted) -> None:
    await storage.tag(
        result.stored_key,
        {
            **creation_tags(upload_event),
            FRAMES: str(result.frames),
            DURATION: f"{result.duration.numerator}/{result.duration.denominator}",
            SIZE: str(result.size_bytes),
            SHA256: result.sha256,
            PREVIEWS: str(len(result.previews)),
        },
    )


async def stored_result(
    storage: Storage, upload_event: uuid.UUID, key: str, video_id: uuid.UUID, workdir: Path
) -> Extracted | None:
    """The result stored under `key` for this very upload event, if there is one."""
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
            previews=tuple(preview_key(video_id, n) for n in range(1, int(tags[PREVIEWS]) + 1)),
        )
    except (KeyError, ValueError, ZeroDivisionError):
        pass  # stored, but its job was cut off before the summary: read it back
    local = workdir / "stored.zip"
    downloaded = await storage.download_to(key, local)
    summary = await asyncio.to_thread(_summary_of, local, downloaded)
    candidates = [preview_key(video_id, n) for n in range(1, PREVIEW_COUNT + 1)]
    found = await asyncio.gather(*map(storage.exists, candidates))
    present = [k for k, there in zip(candidates, found, strict=True) if there]
    result = dataclasses.replace(summary, previews=tuple(present))
    await write_receipt(storage, upload_event, result)
    return result


def _summary_of(path: Path, downloaded: StoredObject) -> Extracted:
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(MANIFEST_NAME))
    return Extracted(
        frames=int(manifest["frame_count"]),
        duration=Fraction(str(manifest["duration_seconds"])),
        stored_key=downloaded.key,
        size_bytes=downloaded.size_bytes,
        sha256=downloaded.sha256,
    )
