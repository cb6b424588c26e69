"""The account's life after registration: signing out (one token revoked), changing the password and deleting the
account (every token of the user revoked). A revocation is a row and an `auth.token.revoked.v1` event in one
transaction; it applies on this replica at once and on every other verifier when the event reaches it
(servicekit.revocations)."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import structlog

from auth_svc import store
from auth_svc.service import Accounts, IssuedToken, LoginKeys, UnknownUser, admit_attempt, issue
from auth_svc.store import Credentials, Revocation
from contracts import RevocationReason, TokenRevokedV1, UserDeletedV1, new_envelope
from servicekit import outbox
from servicekit.tokens import Claims

log = structlog.get_logger(__name__)

SOURCE = "framepipe/auth_svc"


class WrongPassword(Exception):
    """The current password given to confirm a change is not the account's."""


async def sign_out(accounts: Accounts, claims: Claims, correlation_id: str) -> None:
    """Revoke the presented token until it expires. A token without an id cannot be named in a revocation: our
    signer always gives one, so this is only logged."""
    if claims.token_id is None:
        log.warning("sign_out_without_token_id", user_id=str(claims.user_id))
        return
    revocation = Revocation(
        user_id=claims.user_id,
        jti=claims.token_id,
        not_before=None,
        expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
        reason=RevocationReason.LOGOUT.value,
    )
    async with accounts.pool.acquire() as conn, conn.transaction():
        event = await _revoke(conn, revocation, correlation_id)
    if event is not None:
        accounts.deny_list.revoke(event)
    log.info("signed_out", user_id=str(claims.user_id))


async def change_password(
    accounts: Accounts, claims: Claims, current: str, new: str, client_address: str, correlation_id: str
) -> IssuedToken:
    """Replace the password once the current one is confirmed, revoke every token of the user issued until now
    (other devices, stolen copies), and give the caller a fresh one."""
    credentials = await _confirm_password(accounts, claims.user_id, current, client_address)
    new_hash = await accounts.passwords.hash(new)
    revocation = _revoke_all(accounts, claims.user_id, RevocationReason.PASSWORD_CHANGED)
    assert revocation.not_before is not None
    async with accounts.pool.acquire() as conn, conn.transaction():
        user_id = credentials.user.id
        if not await store.change_password(conn, user_id, credentials.password_hash, new_hash, revocation.not_before):
            raise WrongPassword  # changed concurrently: the password just confirmed is no longer the account's
        event = await _revoke(conn, revocation, correlation_id)
        user = await store.user_by_id(conn, user_id)
    assert event is not None  # a revocation by time never conflicts
    assert user is not None  # the row was just updated in this transaction
    accounts.deny_list.revoke(event)
    log.info("password_changed", user_id=str(user.id), client_address=client_address)
    return issue(accounts, user)


async def delete_account(
    accounts: Accounts, claims: Claims, password: str, client_address: str, correlation_id: str
) -> datetime:
    """Delete the user once the password is confirmed, revoke every token of theirs, and tell the other services
    (`auth.user.deleted.v1`), which delete what they hold about the user. The e-mail can be registered again."""
    await _confirm_password(accounts, claims.user_id, password, client_address)
    revocation = _revoke_all(accounts, claims.user_id, RevocationReason.ACCOUNT_DELETED)
    deleted_at = datetime.now(UTC)
    async with accounts.pool.acquire() as conn, conn.transaction():
        if not await store.delete_user(conn, claims.user_id):
            raise UnknownUser  # deleted by a concurrent request
        event = await _revoke(conn, revocation, correlation_id)
        deleted = UserDeletedV1(user_id=claims.user_id, deleted_at=deleted_at)
        await outbox.enqueue(conn, new_envelope(deleted, source=SOURCE, correlation_id=correlation_id))
    assert event is not None
    accounts.deny_list.revoke(event)
    log.info("account_deleted", user_id=str(claims.user_id), client_address=client_address)
    return deleted_at


def _revoke_all(accounts: Accounts, user_id: uuid.UUID, reason: RevocationReason) -> Revocation:
    """Every token issued before the next whole second (`iat` counts seconds): tokens issued from then on, the
    caller's fresh one included, are dated from it by the signer. The last of the revoked ones expires one token
    lifetime later."""
    not_before = math.floor(time.time()) + 1
    return Revocation(
        user_id=user_id,
        jti=None,
        not_before=datetime.fromtimestamp(not_before, UTC),
        expires_at=datetime.fromtimestamp(not_before + accounts.signer.ttl_seconds, UTC),
        reason=reason.value,
    )


async def _revoke(conn: asyncpg.Connection, revocation: Revocation, correlation_id: str) -> TokenRevokedV1 | None:
    """Record the revocation and enqueue its event in the caller's transaction; None if that token was revoked
    already (a second sign-out with it)."""
    revoked_at = await store.insert_revocation(conn, revocation)
    if revoked_at is None:
        return None
    event = TokenRevokedV1(
        user_id=revocation.user_id,
        jti=revocation.jti,
        not_before=revocation.not_before,
        expires_at=revocation.expires_at,
        reason=RevocationReason(revocation.reason),
        revoked_at=revoked_at,
    )
    await outbox.enqueue(conn, new_envelope(event, source=SOURCE, correlation_id=correlation_id))
    log.info("tokens_revoked", user_id=str(revocation.user_id), reason=revocation.reason, all=revocation.jti is None)
    return event


async def _confirm_password(accounts: Accounts, user_id: uuid.UUID, password: str, client_address: str) -> Credentials:
    """The account's credentials when `password` is its password. Throttled as logins are, on the same counts:
    a stolen session cannot be used to guess the password faster than the login form allows."""
    async with accounts.pool.acquire() as conn:
        credentials = await store.credentials_by_id(conn, user_id)
        if credentials is None:
            raise UnknownUser
        keys = LoginKeys.of(credentials.user.email, client_address)
        await admit_attempt(conn, accounts.throttle, keys, credentials.user.email, client_address)
    verdict = await accounts.passwords.verify(credentials.password_hash, password)
    async with accounts.pool.acquire() as conn:
        if not verdict.valid:
            await store.record_failure(conn, keys.address)
            log.warning("password_confirmation_failed", user_id=str(user_id), client_address=client_address)
            raise WrongPassword
        await store.clear_failures(conn, keys.account, keys.pair)
    return credentials
