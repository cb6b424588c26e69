"""Scratch PostgreSQL databases: created for a run, a test or a benchmark, and dropped with whatever is still
connected to them; and a schema of a test's own inside one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg


@dataclass
class SchemaPool:
    schema: str
    pool: asyncpg.Pool
    dsn: str


def database_url_on(admin_dsn: str, name: str) -> str:
    """The URL of database `name` on the server `admin_dsn` points at."""
    return admin_dsn.rsplit("/", 1)[0] + f"/{name}"


async def create_database(admin_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return database_url_on(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop the database, cutting off its connections first (and letting them in again, should a test have
    refused them, so that nothing is left behind)."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        exists = await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
        if exists:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def scratch_database(admin_dsn: str, name: str) -> AsyncIterator[str]:
    """A new, empty database named `name`; yields its URL and drops it afterwards."""
    url = await create_database(admin_dsn, name)
    try:
        yield url
    finally:
        await drop_database(admin_dsn, name)
