"""A one-line progress bar on stderr: redrawn in place on a terminal (at most 10 times a second), a single
final line otherwise, so logs and pipes get a record instead of a wall of carriage returns."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 28
REDRAW_SECONDS = 0.1


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


class ProgressBar:
    def __init__(self, label: str, total: float | None, *, unit: str = "bytes", stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0.0
        self.note = ""
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def update(self, done: float, note: str | None = None) -> None:
        self.done = done
        if note is not None:
            self.note = note
        now = time.monotonic()
        if self._live and now - self._drawn_at >= REDRAW_SECONDS:
            self._drawn_at = now
            self._stream.write("\r" + self.render() + "\x1b[K")
            self._stream.flush()

    def close(self, note: str | None = None) -> None:
        if note is not None:
            self.note = note
        self._stream.write(("\r" if self._live else "") + self.render() + ("\x1b[K" if self._live else "") + "\n")
        self._stream.flush()

    def render(self) -> str:
        fraction = min(max(self.done / self.total, 0.0), 1.0) if self.total else None
        filled = round(WIDTH * fraction) if fraction is not None else 0
        bar = "#" * filled + "-" * (WIDTH - filled) if fraction is not None else "?" * WIDTH
        percent = f"{fraction * 100:3.0f}%" if fraction is not None else " ?? "
        parts = [self.label, f"[{bar}]", percent]
        if self.unit == "bytes":
            elapsed = max(time.monotonic() - self._started, 1e-6)
            total = f"/{human_bytes(self.total)}" if self.total else ""
            parts.append(f"{human_bytes(self.done)}{total}  {human_bytes(self.done / elapsed)}/s")
        if self.note:
            parts.append(self.note)
        return "  ".join(parts)
