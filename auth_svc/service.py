"""The use cases: register, log in (argon2id, throttled, constant-time for unknown e-mails), who am I."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

import asyncpg
import structlog

from auth_svc import store
from auth_svc.passwords import Passwords
from auth_svc.store import User
from contracts import UserRegisteredV1, new_envelope
from servicekit import outbox
from servicekit.revocations import DenyList
from servicekit.tokens import Claims, TokenSigner

log = structlog.get_logger(__name__)

SOURCE = "framepipe/auth_svc"


class EmailTaken(Exception):
    """Another account already uses this e-mail (compared case-insensitively)."""


class InvalidCredentials(Exception):
    """Wrong password or unknown e-mail: deliberately the same error."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class TooManyRegistrations(TooManyAttempts):
    """Too many accounts created from one client address."""


class UnknownUser(Exception):
    """A valid token names a user that does not exist here."""


class SessionTooOld(Exception):
    """A browser session may be refreshed only so long after the password was given."""


@dataclass(frozen=True)
class LoginThrottle:
    max_failures: int  # per account and client address
    account_max_failures: int  # per account, from anywhere
    address_max_failures: int  # per client address, over every account
    window_seconds: int
    registrations_per_hour: int  # per client address

    def limits(self, keys: LoginKeys) -> dict[str, int]:
        return {
            keys.pair: self.max_failures,
            keys.account: self.account_max_failures,
            keys.address: self.address_max_failures,
        }


@dataclass(frozen=True)
class LoginKeys:
    """What failed logins are counted by."""

    pair: str
    account: str
    address: str

    @classmethod
    def of(cls, email: str, client_address: str) -> LoginKeys:
        return cls(f"pair:{email}|{client_address}", f"account:{email}", f"address:{client_address}")


@dataclass(frozen=True)
class Accounts:
    """What the use cases need, built once by the composition root."""

    pool: asyncpg.Pool
    passwords: Passwords
    signer: TokenSigner
    throttle: LoginThrottle
    deny_list: DenyList  # this replica's: a revocation made here applies here at once, before the event returns


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    user: User


REGISTRATION_WINDOW_SECONDS = 3600


async def register(
    accounts: Accounts, email: str, password: str, name: str | None, correlation_id: str, client_address: str
) -> User:
    """Create the user and enqueue `auth.user.registered.v1` in the same transaction. Every attempt counts against
    the client address first (each one costs an argon2 hash, taken e-mail or not)."""
    key = f"register:{client_address}"
    async with accounts.pool.acquire() as conn, conn.transaction():
        await store.lock_key(conn, key)
        limits = {key: accounts.throttle.registrations_per_hour}
        wait, _ = await store.blocked_for(conn, limits, REGISTRATION_WINDOW_SECONDS)
        if wait > 0:
            log.warning("registration_throttled", client_address=client_address)
            raise TooManyRegistrations(max(1, math.ceil(wait)))
        await store.record_failure(conn, key)
    password_hash = await accounts.passwords.hash(password)
    async with accounts.pool.acquire() as conn, conn.transaction():
        user = await store.insert_user(conn, uuid.uuid4(), email, name, password_hash)
        if user is None:
            raise EmailTaken
        event = UserRegisteredV1(user_id=user.id, email=user.email, name=user.name, registered_at=user.created_at)
        await outbox.enqueue(conn, new_envelope(event, source=SOURCE, correlation_id=correlation_id))
    log.info("user_registered", user_id=str(user.id))
    return user


async def login(accounts: Accounts, email: str, password: str, client_address: str) -> IssuedToken:
    """A token for the right password. The attempt counts against the account (and the account from this
    address) before the password is checked, so parallel guesses cannot slip past a limit, and is forgotten if
    it succeeds; the client address is charged only for real failures, so people behind one NAT can log in at
    the same time. A guesser from one address is stopped on that account long before the account is stopped for
    everyone (LoginThrottle). Every outcome is logged, with the address and never the password."""
    keys = LoginKeys.of(email, client_address)
    async with accounts.pool.acquire() as conn:
        await admit_attempt(conn, accounts.throttle, keys, email, client_address)
        credentials = await store.credentials_by_email(conn, email)
    verdict = await accounts.passwords.verify(credentials.password_hash if credentials else None, password)
    if credentials is None or not verdict.valid:
        async with accounts.pool.acquire() as conn:
            await store.record_failure(conn, keys.address)
        reason = "unknown_email" if credentials is None else "wrong_password"
        log.warning("login_failed", email=email, client_address=client_address, reason=reason)
        raise InvalidCredentials
    new_hash = await accounts.passwords.hash(password) if verdict.needs_rehash else None
    async with accounts.pool.acquire() as conn:
        await store.clear_failures(conn, keys.account, keys.pair)
        if new_hash is not None:
            await store.replace_password_hash(conn, credentials.user.id, credentials.password_hash, new_hash)
            log.info("password_rehashed", user_id=str(credentials.user.id))
    log.info("login_succeeded", user_id=str(credentials.user.id), client_address=client_address)
    return issue(accounts, credentials.user)


def issue(accounts: Accounts, user: User, auth_time: int | None = None) -> IssuedToken:
    token = accounts.signer.sign(user.id, user.email, auth_time, not_before=user.tokens_not_before)
    return IssuedToken(access_token=token, expires_in=accounts.signer.ttl_seconds, user=user)


async def refresh_session(accounts: Accounts, claims: Claims, max_age_seconds: int) -> IssuedToken:
    """A new token for a live session, as old as the password it began with: a session cannot be stretched
    past `max_age_seconds` without the password, and ends with its user."""
    if time.time() - claims.auth_time > max_age_seconds:
        raise SessionTooOld
    user = await current_user(accounts, claims.user_id)
    return issue(accounts, user, claims.auth_time)


async def admit_attempt(
    conn: asyncpg.Connection, throttle: LoginThrottle, keys: LoginKeys, email: str, client_address: str
) -> None:
    """Refuse the attempt if any of its counts is over its limit; otherwise count it against the account and the
    account from this address. Check and count are atomic per account."""
    async with conn.transaction():
        await store.lock_key(conn, keys.account)
        wait, key = await store.blocked_for(conn, throttle.limits(keys), throttle.window_seconds)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            limit = key.partition(":")[0]  # pair, account or address
            log.warning("login_throttled", email=email, client_address=client_address, limit=limit,
                        retry_after=retry_after)  # fmt: skip
            raise TooManyAttempts(retry_after)
        await store.record_failure(conn, keys.account, keys.pair)


async def current_user(accounts: Accounts, user_id: uuid.UUID) -> User:
    async with accounts.pool.acquire() as conn:
        user = await store.user_by_id(conn, user_id)
    if user is None:
        raise UnknownUser
    return user


async def prune_login_failures(accounts: Accounts) -> int:
    """Forget attempts older than the longest window they are counted in, and revocations of expired tokens."""
    window = max(accounts.throttle.window_seconds, REGISTRATION_WINDOW_SECONDS)
    async with accounts.pool.acquire() as conn:
        await store.prune_revocations(conn)
        return await store.prune_failures(conn, window)
