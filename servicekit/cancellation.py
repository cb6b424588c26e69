"""Loops that run until cancelled must end when cancelled. On Python 3.11, `asyncio.wait_for` (ours, and the one
inside asyncpg.connect) can return normally when the task is cancelled just as what it waits for completes, and the
cancellation is then swallowed: a `while True` loop around it would go on forever and its owner's shutdown hang.
The task still counts the request (`Task.cancelling()`), so these helpers honour it."""

from __future__ import annotations

import asyncio
import contextlib


def raise_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop, even when an await swallowed the request."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Wait until `event` is set or `seconds` have passed, whichever comes first; a stop request always ends it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    raise_if_cancelled()
