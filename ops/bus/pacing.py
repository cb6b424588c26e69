"""Pacing and showing a long job: a token bucket for `--rate N/s` and a one-line progress bar on stderr."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import IO


def parse_rate(text: str) -> float:
    """`200/s`, `200`, or `600/m`."""
    value, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}.get(unit.strip())
    try:
        rate = float(value) / per if per else -1.0
    except ValueError:
        rate = -1.0
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"not a rate like 200/s: {text!r}")
    return rate


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. The burst is small so a job never starts with a spike."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self._rate = rate
        self._burst = max(1.0, burst)
        self._tokens = 1.0
        self._last = time.monotonic()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self._tokens) / self._rate)


class Progress:
    """`sent 1200 · skipped 3 · 412/s · 37%`; redrawn in place on a terminal, an occasional line otherwise."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._started = time.monotonic()
        self._shown = 0.0
        self._interval = 0.2 if self._tty else 10.0

    def update(self, sent: int, skipped: int, fraction: float | None, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._shown < self._interval:
            return
        self._shown = now
        rate = sent / max(now - self._started, 1e-6)
        line = f"{self._label}: sent {sent} · skipped {skipped} · {rate:.0f}/s"
        if fraction is not None:
            filled = int(min(max(fraction, 0.0), 1.0) * 30)
            line += f" [{'#' * filled}{'.' * (30 - filled)}] {fraction:.0%}"
        if self._tty:
            self._stream.write("\r" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
