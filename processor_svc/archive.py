"""The result ZIP, produced as a stream: each frame is added (stored, not deflated: PNG and JPEG do not
compress further) as soon as it is complete and deleted from disk once its bytes are out, then manifest.json.
Memory holds one frame and the zip's directory, whatever the video's length."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from zipstream import ZIP_STORED, ZipStream

from contracts import FailureCode, ImageFormat
from processor_svc.media import MediaRejected

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ManifestHeader:
    source_filename: str
    interval_seconds: float
    image_format: ImageFormat


def manifest_bytes(header: ManifestHeader, frames: list[dict[str, Any]], duration: Fraction) -> bytes:
    document = {
        "source_filename": header.source_filename,
        "interval_seconds": header.interval_seconds,
        "image_format": header.image_format.value,
        "duration_seconds": round(float(duration), 6),
        "frame_count": len(frames),
        "frames": frames,
    }
    return json.dumps(document, indent=2).encode()


async def zip_of_frames(
    frames: AsyncIterator[Path],
    header: ManifestHeader,
    interval: Fraction,
    duration: Fraction,
    before_manifest: Callable[[int], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """Yield the ZIP's bytes. `before_manifest(frame_count)` may raise to abandon the archive (the upload is
    then aborted): it is where a short result is caught before it could look complete."""
    archive = ZipStream(compress_type=ZIP_STORED)
    entries: list[dict[str, Any]] = []
    async for path in frames:
        data = path.read_bytes()
        path.unlink()
        archive.add(data, path.name)
        del data
        entries.append({"file": path.name, "timestamp_seconds": round(float(len(entries) * interval), 6)})
        for chunk in archive.file():
            yield chunk
    await before_manifest(len(entries))
    archive.add(manifest_bytes(header, entries, duration), MANIFEST_NAME)
    for chunk in archive.finalize():
        yield chunk


async def capped(chunks: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    """The ZIP's bytes, up to `max_bytes`: a result that would be larger is refused before its next chunk leaves,
    and the upload it feeds is aborted, so nothing is stored."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise MediaRejected(FailureCode.TOO_LARGE, f"the result ZIP is over {max_bytes} bytes")
        yield chunk
