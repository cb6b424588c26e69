"""asyncpg pool bound to one service schema, and the migrations runner.

Migrations are numbered SQL files. servicekit's own (outbox, inbox) are applied first under the `kit:` prefix,
then the service's; each file is applied once, in its own transaction, under an advisory lock on the schema,
so several replicas starting together do not race."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

KIT_MIGRATIONS = Path(str(resources.files("servicekit") / "migrations"))


async def create_pool(
    dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, settings: dict[str, str] | None = None
) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in the service schema. asyncpg drops broken
    connections and opens new ones, so the pool recovers by itself after a database restart.

    A released connection is not sent asyncpg's session-reset query (unlock advisory locks, CLOSE ALL, UNLISTEN *,
    RESET ALL): nothing here leaves session state on a pooled connection (LISTEN runs on a connection of its own,
    the migration lock is released or its connection closed), and that query was one more round trip on every
    checkout: without it a consumed outcome costs notify_svc and PostgreSQL about a tenth less CPU. asyncpg still
    rolls back a transaction left open. `settings` are more server settings (GUCs) for every connection."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": f"framepipe-{schema}", **(settings or {})},
        max_inactive_connection_lifetime=60,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset step: nothing to undo (see create_pool)."""


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)


def _migration_files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    return [(f"{prefix}{path.name}", path) for path in sorted(directory.glob("*.sql"))]


async def migrate(pool: asyncpg.Pool, schema: str, migrations_dir: Path) -> list[str]:
    """Apply pending migrations; returns the versions applied now."""
    files = _migration_files(KIT_MIGRATIONS, "kit:") + _migration_files(migrations_dir, "")
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        unlocked = False
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')}
            for version, path in files:
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                    await conn.execute(path.read_text())
                    await conn.execute(f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)', version)
                applied_now.append(version)
                log.info("migration_applied", schema=schema, version=version)
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
            unlocked = True
        finally:
            if not unlocked:
                conn.terminate()  # the pool does not reset sessions: never hand back one that may hold the lock
    return applied_now


async def check_database(pool: asyncpg.Pool) -> None:
    """Readiness: a round trip on a pooled connection."""
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1")
