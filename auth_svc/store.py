"""SQL for users, failed logins and revoked tokens. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    email: str
    name: str | None
    created_at: datetime
    tokens_not_before: int = 0  # epoch seconds: the user's tokens issued before it are revoked


@dataclass(frozen=True)
class Credentials:
    user: User
    password_hash: str


_USER_COLUMNS = "id, email, name, created_at, tokens_not_before"


def _user(row: asyncpg.Record) -> User:
    not_before = row["tokens_not_before"]
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        created_at=row["created_at"],
        tokens_not_before=int(not_before.timestamp()) if not_before else 0,
    )


async def insert_user(
    conn: asyncpg.Connection, user_id: uuid.UUID, email: str, name: str | None, password_hash: str
) -> User | None:
    """The new user, or None when the e-mail is taken (in any letter case)."""
    row = await conn.fetchrow(
        f"INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) "
        f"ON CONFLICT ((lower(email))) DO NOTHING RETURNING {_USER_COLUMNS}",
        user_id,
        email,
        name,
        password_hash,
    )
    return _user(row) if row else None


async def credentials_by_email(conn: asyncpg.Connection, email: str) -> Credentials | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)", email)
    return Credentials(_user(row), row["password_hash"]) if row else None


async def user_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> User | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(row) if row else None


async def credentials_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> Credentials | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE id = $1", user_id)
    return Credentials(_user(row), row["password_hash"]) if row else None


async def change_password(
    conn: asyncpg.Connection, user_id: uuid.UUID, old_hash: str, new_hash: str, not_before: datetime
) -> bool:
    """Compare-and-set the hash (a concurrent change wins once) and revoke the user's older tokens."""
    status: str = await conn.execute(
        "UPDATE users SET password_hash = $3, tokens_not_before = $4, updated_at = now() "
        "WHERE id = $1 AND password_hash = $2",
        user_id,
        old_hash,
        new_hash,
        not_before,
    )
    return status != "UPDATE 0"


async def delete_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    status: str = await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    return status != "DELETE 0"


@dataclass(frozen=True)
class Revocation:
    user_id: uuid.UUID
    jti: str | None
    not_before: datetime | None
    expires_at: datetime
    reason: str


async def insert_revocation(conn: asyncpg.Connection, revocation: Revocation) -> datetime | None:
    """When the revocation was recorded; None when that token had been revoked already."""
    revoked_at: datetime | None = await conn.fetchval(
        "INSERT INTO token_revocations (user_id, jti, not_before, expires_at, reason) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (jti) DO NOTHING RETURNING revoked_at",
        revocation.user_id,
        revocation.jti,
        revocation.not_before,
        revocation.expires_at,
        revocation.reason,
    )
    return revoked_at


async def prune_revocations(conn: asyncpg.Connection) -> int:
    """Forget revocations of tokens that have expired by themselves."""
    status: str = await conn.execute("DELETE FROM token_revocations WHERE expires_at < now()")
    return int(status.rsplit(" ", 1)[-1])


async def replace_password_hash(conn: asyncpg.Connection, user_id: uuid.UUID, old: str, new: str) -> None:
    """Compare-and-set, so a concurrent password change is never overwritten by a rehash."""
    await conn.execute(
        "UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2",
        user_id,
        old,
        new,
    )


async def lock_key(conn: asyncpg.Connection, key: str) -> None:
    """Serialise throttle decisions on one key until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)


async def blocked_for(conn: asyncpg.Connection, limits: dict[str, int], window_seconds: int) -> tuple[float, str]:
    """(seconds until every key is below its limit of failures in the sliding window, the key that blocks longest);
    (0, '') when none blocks. A key is blocked while its limit-th most recent failure is inside the window; it is
    free again when that failure leaves the window."""
    row = await conn.fetchrow(
        "SELECT r.key, extract(epoch FROM r.failed_at + make_interval(secs => $3) - clock_timestamp()) AS wait "
        "FROM ("
        "  SELECT f.key, f.failed_at, l.max_failures,"
        "         row_number() OVER (PARTITION BY f.key ORDER BY f.failed_at DESC) AS n"
        "  FROM login_failures f JOIN unnest($1::text[], $2::int[]) AS l(key, max_failures) ON f.key = l.key"
        "  WHERE f.failed_at > clock_timestamp() - make_interval(secs => $3)"
        ") r WHERE r.n = r.max_failures ORDER BY wait DESC LIMIT 1",
        list(limits),
        list(limits.values()),
        float(window_seconds),
    )
    if row is None or row["wait"] <= 0:
        return 0.0, ""
    return float(row["wait"]), str(row["key"])


async def record_failure(conn: asyncpg.Connection, *keys: str) -> None:
    await conn.executemany("INSERT INTO login_failures (key) VALUES ($1)", [(key,) for key in keys])


async def clear_failures(conn: asyncpg.Connection, *keys: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE key = ANY($1::text[])", list(keys))


async def prune_failures(conn: asyncpg.Connection, window_seconds: int) -> int:
    status: str = await conn.execute(
        "DELETE FROM login_failures WHERE failed_at < clock_timestamp() - make_interval(secs => $1)",
        float(window_seconds),
    )
    return int(status.rsplit(" ", 1)[-1])
