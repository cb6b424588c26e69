"""The storyboard: one sprite sheet (JPEG) of small pictures of the extracted frames, with a WebVTT and a JSON
index of where each frame's tile is and when it is on screen, for seek-bar previews.

The extraction command also writes each frame, scaled to THUMBNAIL_WIDTH, into one MJPEG stream on disk (a few
KB a frame); once it is done, one more ffmpeg run tiles them. Memory never holds more than the finished sheet.
A long result keeps every n-th frame, so the sheet has at most MAX_TILES tiles."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import structlog

from contracts import ProcessingOptions
from processor_svc.extraction import THUMBNAILS_FILE
from processor_svc.media import MediaInfo, decoder_pixel_limit
from processor_svc.runner import ToolLimits, run_tool
from processor_svc.selection import picture_size

log = structlog.get_logger(__name__)

DIRECTORY = "storyboard"
SHEET_NAME = "storyboard.jpg"
VTT_NAME = "storyboard.vtt"
INDEX_NAME = "storyboard.json"
THUMBNAIL_WIDTH = 160
COLUMNS = 10
MAX_TILES = 500  # 50 rows: a sheet stays far below JPEG's 65535-pixel side and a few MB
SHEET_QSCALE = "4"


@dataclass(frozen=True)
class Layout:
    tile_width: int
    tile_height: int
    every: int  # one tile per this many frames
    tiles: int
    columns: int

    @property
    def rows(self) -> int:
        return math.ceil(self.tiles / self.columns)

    def position(self, tile: int) -> tuple[int, int]:
        return (tile % self.columns) * self.tile_width, (tile // self.columns) * self.tile_height


def thumbnail_size(options: ProcessingOptions, info: MediaInfo) -> tuple[int, int]:
    """THUMBNAIL_WIDTH wide (never enlarged), the frames' aspect kept."""
    width, height = picture_size(options, info)
    tile_width = min(THUMBNAIL_WIDTH, width)
    return tile_width, max(1, round(height * tile_width / width))


def thumbnail_filter(options: ProcessingOptions, info: MediaInfo) -> str:
    width, height = thumbnail_size(options, info)
    return f"scale={width}:{height}"


def layout(options: ProcessingOptions, info: MediaInfo, frames: int) -> Layout:
    every = max(1, math.ceil(frames / MAX_TILES))
    tiles = math.ceil(frames / every)
    width, height = thumbnail_size(options, info)
    return Layout(width, height, every, tiles, min(COLUMNS, tiles))


def sheet_argv(sheet: Layout, max_pixels: int) -> list[str]:
    """Tiles the thumbnails the extraction wrote (our own MJPEG stream: only that demuxer and decoder)."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-xerror",
        "-protocol_whitelist", "file", "-format_whitelist", "mjpeg", "-codec_whitelist", "mjpeg",
        "-max_pixels", decoder_pixel_limit(max_pixels), "-f", "mjpeg", "-i", THUMBNAILS_FILE,
        "-vf", f"select='not(mod(n,{sheet.every}))',tile={sheet.columns}x{sheet.rows}",
        "-frames:v", "1", "-fps_mode", "passthrough", "-q:v", SHEET_QSCALE, "-update", "1", f"{DIRECTORY}/{SHEET_NAME}",
    ]  # fmt: skip


def index(sheet: Layout, files: list[str], times: list[Fraction], end: Fraction) -> list[dict[str, object]]:
    """One entry per tile: its frame, and from when until when (the next tile's frame, or the range's end)."""
    picked = list(range(0, len(files), sheet.every))
    entries: list[dict[str, object]] = []
    for tile, frame in enumerate(picked):
        until = times[picked[tile + 1]] if tile + 1 < len(picked) else max(end, times[frame])
        x, y = sheet.position(tile)
        entries.append(
            {
                "file": files[frame],
                "start_seconds": round(float(times[frame]), 6),
                "end_seconds": round(float(until), 6),
                "x": x,
                "y": y,
                "w": sheet.tile_width,
                "h": sheet.tile_height,
            }
        )
    return entries


def index_json(sheet: Layout, entries: list[dict[str, object]]) -> bytes:
    document = {
        "image": SHEET_NAME,
        "columns": sheet.columns,
        "rows": sheet.rows,
        "tile_width": sheet.tile_width,
        "tile_height": sheet.tile_height,
        "tiles": entries,
    }
    return json.dumps(document, indent=2).encode()


def webvtt(entries: list[dict[str, object]]) -> bytes:
    lines = ["WEBVTT", ""]
    for entry in entries:
        lines.append(f"{_clock(entry['start_seconds'])} --> {_clock(entry['end_seconds'])}")
        lines.append(f"{SHEET_NAME}#xywh={entry['x']},{entry['y']},{entry['w']},{entry['h']}")
        lines.append("")
    return "\n".join(lines).encode()


def _clock(seconds: object) -> str:
    millis = round(float(str(seconds)) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


async def storyboard_files(
    workdir: Path,
    sheet: Layout,
    files: list[str],
    times: list[Fraction],
    end: Fraction,
    *,
    max_pixels: int,
    limits: ToolLimits,
) -> list[tuple[str, bytes]]:
    """The storyboard's three files as stored in the ZIP (none when there is no frame, or the sheet cannot be
    made: it is a convenience, and must not fail the job)."""
    if not files:
        return []
    (workdir / DIRECTORY).mkdir(exist_ok=True)
    completed = await run_tool(sheet_argv(sheet, max_pixels), workdir / "storyboard.log", limits, cwd=workdir)
    image = workdir / DIRECTORY / SHEET_NAME
    if completed.returncode != 0 or not image.is_file():
        log.warning("storyboard_not_made", returncode=completed.returncode, stderr=completed.stderr_tail[-300:])
        return []
    entries = index(sheet, files, times, end)
    return [
        (f"{DIRECTORY}/{SHEET_NAME}", image.read_bytes()),
        (f"{DIRECTORY}/{VTT_NAME}", webvtt(entries)),
        (f"{DIRECTORY}/{INDEX_NAME}", index_json(sheet, entries)),
    ]
