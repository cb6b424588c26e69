"""The result ZIP, produced as a stream: each frame is added (stored, not deflated: PNG, JPEG and WebP do not
compress further) as soon as it is complete and deleted from disk once its bytes are out, then what the end of
the extraction gives (the storyboard) and manifest.json. Memory holds one frame and the zip's directory, whatever
the video's length.

The manifest says what was done, so a result can be checked and made again: the options, the range, the
source's SHA-256, the extraction command as it ran (paths relative to its job directory), and per frame its
timestamp and SHA-256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from zipstream import ZIP_STORED, ZipStream

from contracts import FailureCode, ProcessingOptions
from processor_svc.media import MediaRejected
from processor_svc.selection import TimeRange

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ManifestHeader:
    source_filename: str
    options: ProcessingOptions
    span: TimeRange
    source_sha256: str
    command: list[str]


@dataclass(frozen=True)
class Ending:
    """What the end of the extraction adds: each frame's time, files to store after the frames, manifest fields."""

    times: list[Fraction]
    files: list[tuple[str, bytes]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)


def manifest_bytes(header: ManifestHeader, frames: list[dict[str, Any]], duration: Fraction, ending: Ending) -> bytes:
    document = {
        "source_filename": header.source_filename,
        "interval_seconds": header.options.interval_seconds,
        "image_format": header.options.image_format.value,
        "duration_seconds": round(float(duration), 6),
        "frame_count": len(frames),
        "frames": frames,
        "options": header.options.model_dump(mode="json"),
        "range": {
            "start_seconds": round(float(header.span.start), 6),
            "end_seconds": round(float(header.span.end), 6),
        },
        "source_sha256": header.source_sha256,
        "ffmpeg_command": header.command,
        **ending.fields,
    }
    return json.dumps(document, indent=2).encode()


async def zip_of_frames(
    frames: AsyncIterator[Path],
    header: ManifestHeader,
    duration: Fraction,
    finish: Callable[[list[str]], Awaitable[Ending]],
) -> AsyncIterator[bytes]:
    """Yield the ZIP's bytes. `finish(frame_names)` may raise to abandon the archive (the upload is then
    aborted): it is where a short result is caught before it could look complete."""
    archive = ZipStream(compress_type=ZIP_STORED)
    names: list[str] = []
    hashes: list[str] = []
    async for path in frames:
        data = path.read_bytes()
        path.unlink()
        archive.add(data, path.name)
        names.append(path.name)
        hashes.append(hashlib.sha256(data).hexdigest())
        del data
        for chunk in archive.file():
            yield chunk
    ending = await finish(names)
    for name, data in ending.files:
        archive.add(data, name)
        for chunk in archive.file():
            yield chunk
    entries = [
        {"file": name, "timestamp_seconds": round(float(time), 6), "sha256": digest}
        for name, time, digest in zip(names, ending.times, hashes, strict=True)
    ]
    archive.add(manifest_bytes(header, entries, duration, ending), MANIFEST_NAME)
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
