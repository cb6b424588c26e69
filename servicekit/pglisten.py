"""Waking a loop on PostgreSQL notifications: LISTEN on a connection of its own, reconnecting after a database
restart. NOTIFY is delivered at commit (never for a rolled-back transaction), so a woken loop sees the rows."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

log = structlog.get_logger(__name__)


async def wake_on_notify(dsn: str, channel: str, wake: asyncio.Event, *, retry_seconds: float = 1.0) -> None:
    """Set `wake` on every notification on `channel`, and after each (re)connection (to catch up on anything
    committed while nobody listened). Runs until cancelled; the loops it wakes also poll, so a lost notification
    only costs latency."""
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(channel, lambda *_: wake.set())
            wake.set()
            await lost.wait()
        except asyncio.CancelledError:
            raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("listen_error", channel=channel, error=f"{type(exc).__name__}: {exc}")
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
        await asyncio.sleep(retry_seconds)
