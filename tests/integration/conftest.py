"""Fixtures for integration tests: a broker connection with the topology declared, a publisher, and a fresh
database schema per test, migrated like a service's, with an `effects` table handlers can write to."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from servicekit.bus import Publisher, connect, declare_topology
from servicekit.db import create_pool, migrate
from tests.support.database import SchemaPool


@pytest.fixture
async def amqp(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(amqp_url, "tests")
    await declare_topology(connection)
    yield connection
    await connection.close()


@pytest.fixture
async def publisher(amqp: AbstractRobustConnection) -> AsyncIterator[Publisher]:
    pub = Publisher(amqp, "tests", timeout=5)
    await pub.start()
    yield pub
    await pub.close()


@pytest.fixture
async def schema_pool(database_url: str, tmp_path: Path) -> AsyncIterator[SchemaPool]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_effects.sql").write_text(
        "CREATE TABLE effects (event_id uuid NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
    )
    pool = await create_pool(database_url, schema, min_size=1, max_size=30)
    await migrate(pool, schema, migrations)
    yield SchemaPool(schema, pool, database_url)
    async with pool.acquire() as conn:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()
