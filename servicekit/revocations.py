"""The deny-list of revoked access tokens, kept in memory by every replica that verifies tokens (servicekit.tokens
consults it on every verification), and the feed that fills it from the broker (docs/decisions/0020).

auth_svc publishes `auth.token.revoked.v1` for a sign-out (one token, by `jti`) and for a password change or a
deleted account (every token of the user issued before `not_before`). The events land in the stream
`framepipe.revocations`; each replica reads it from its first message when it starts, so a replica started after a
revocation still refuses the token, and then follows it. An entry is forgotten once the tokens it revokes have
expired by themselves, which keeps the list as small as the revocations of one token lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from contracts import MalformedEvent, TokenRevokedV1, decode
from contracts.topology import REVOCATIONS_STREAM

log = structlog.get_logger(__name__)

PRUNE_INTERVAL_SECONDS = 60.0
CATCH_UP_QUIET_SECONDS = 0.3  # the stream is read up to where it fell silent this long
CATCH_UP_LIMIT_SECONDS = 15.0
STREAM_PREFETCH = 500


@dataclass
class DenyList:
    """Revoked token ids and per-user `not_before` times, each with the time after which it no longer matters.
    Single-threaded (the event loop): no locking."""

    _tokens: dict[str, float] = field(default_factory=dict)  # jti -> expiry (epoch seconds)
    _users: dict[uuid.UUID, tuple[float, float]] = field(default_factory=dict)  # user -> (not_before, expiry)
    _pruned_at: float = 0.0

    def revoke(self, event: TokenRevokedV1) -> None:
        """Take a revocation in; one that is already over is ignored (a stream read from its start has many)."""
        now = time.time()
        expires = event.expires_at.timestamp()
        if expires <= now:
            return
        if event.jti is not None:
            self._tokens[event.jti] = max(expires, self._tokens.get(event.jti, 0.0))
        if event.not_before is not None:
            self._revoke_user(event.user_id, event.not_before.timestamp(), expires)
        self._prune(now)

    def _revoke_user(self, user_id: uuid.UUID, not_before: float, expires: float) -> None:
        """The latest `not_before` wins: it revokes everything an earlier one did."""
        known = self._users.get(user_id)
        if known is None or not_before >= known[0]:
            self._users[user_id] = (not_before, max(expires, known[1] if known else 0.0))

    def refuses(self, user_id: uuid.UUID, token_id: str | None, issued_at: int) -> bool:
        """Whether a token (already verified as signed and unexpired) has been revoked."""
        if token_id is not None and token_id in self._tokens:
            return True
        revoked = self._users.get(user_id)
        return revoked is not None and issued_at < revoked[0]

    def __len__(self) -> int:
        return len(self._tokens) + len(self._users)

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_INTERVAL_SECONDS:
            return
        self._pruned_at = now
        self._tokens = {jti: exp for jti, exp in self._tokens.items() if exp > now}
        self._users = {user: entry for user, entry in self._users.items() if entry[1] > now}


class RevocationFeed:
    """Reads the revocations stream into a deny-list: from its first message, then every new one."""

    def __init__(self, channel: AbstractChannel, deny_list: DenyList) -> None:
        self._channel = channel
        self._deny_list = deny_list
        self._last_message = time.monotonic()
        self.read = 0

    async def start(self) -> None:
        await self._channel.set_qos(prefetch_count=STREAM_PREFETCH)  # a stream is read with credit: qos is required
        # Declared (passively): a robust channel restores consumers only on queues it declared. After a lost
        # connection the stream is read again from its start, which the deny-list takes in idempotently.
        queue = await self._channel.declare_queue(REVOCATIONS_STREAM, passive=True)
        await queue.consume(self._on_message, arguments={"x-stream-offset": "first"})

    async def caught_up(self) -> None:
        """Return once the stream fell quiet: what was revoked before this replica started is known."""
        deadline = time.monotonic() + CATCH_UP_LIMIT_SECONDS
        while time.monotonic() < deadline:
            quiet_for = time.monotonic() - self._last_message
            if quiet_for >= CATCH_UP_QUIET_SECONDS:
                return
            await asyncio.sleep(CATCH_UP_QUIET_SECONDS - quiet_for)
        log.warning("revocations_catch_up_slow", read=self.read)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._last_message = time.monotonic()
        self.read += 1
        try:
            envelope = decode(message.body)
        except MalformedEvent as exc:
            log.error("revocation_malformed", error=str(exc)[:300])
        else:
            if isinstance(envelope.data, TokenRevokedV1):
                self._deny_list.revoke(envelope.data)
        with contextlib.suppress(Exception):  # a lost channel re-reads the stream anyway
            await message.ack()
