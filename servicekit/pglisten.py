"""PostgreSQL notifications: LISTEN on a connection of its own, reconnecting after a database restart. NOTIFY is
delivered at commit (never for a rolled-back transaction), so whoever is told sees the rows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
import structlog

from servicekit.cancellation import raise_if_cancelled

log = structlog.get_logger(__name__)


async def listen(
    dsn: str,
    channel: str,
    on_notify: Callable[[str], None],
    on_connected: Callable[[], None],
    *,
    retry_seconds: float = 1.0,
    application_name: str | None = None,
) -> None:
    """Call `on_notify(payload)` for every notification on `channel`, and `on_connected()` after each
    (re)connection: what was committed while nobody listened was not notified to anyone, so the caller catches
    up. Runs until cancelled; no error ends it (a database restart raises more kinds than one can list)."""
    settings = {"application_name": application_name} if application_name else None
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn, timeout=10, server_settings=settings)
            raise_if_cancelled()  # a stop that came as the connection opened, which connect may have swallowed
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(channel, lambda _c, _pid, _ch, payload: on_notify(payload))
            on_connected()
            await lost.wait()
            log.warning("listen_connection_lost", channel=channel)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("listen_error", channel=channel, error=f"{type(exc).__name__}: {exc}")
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
        await asyncio.sleep(retry_seconds)


async def wake_on_notify(dsn: str, channel: str, wake: asyncio.Event, *, retry_seconds: float = 1.0) -> None:
    """Set `wake` on every notification on `channel` and after each (re)connection; the loops it wakes also poll,
    so a lost notification only costs latency."""
    await listen(dsn, channel, lambda _payload: wake.set(), wake.set, retry_seconds=retry_seconds)
