"""A loop that runs until cancelled ends when cancelled, even when an await swallowed the request (Python 3.11's
wait_for returning a result that completed as the task was cancelled)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from servicekit.cancellation import raise_if_cancelled, wait_at_most


async def _swallowing_await() -> None:
    """What the faulty wait_for does: the task is cancelled, and the await returns as if it were not."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(10)


async def test_a_swallowed_cancellation_is_raised_again() -> None:
    reached: list[str] = []

    async def loop() -> None:
        while True:
            await _swallowing_await()
            reached.append("checked")
            raise_if_cancelled()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert reached == ["checked"]  # ended at the first check, not after looping on


async def test_waiting_ends_when_the_event_is_set_or_the_time_is_up() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    started = asyncio.get_running_loop().time()
    await wait_at_most(event, 5)
    assert asyncio.get_running_loop().time() - started < 1
    await wait_at_most(asyncio.Event(), 0.01)  # the time is up: no error


async def test_a_stop_request_ends_the_wait() -> None:
    task = asyncio.create_task(wait_at_most(asyncio.Event(), 10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
