"""The deny-list every verifier keeps: a revoked token id, or every token of a user issued before a time, is
refused until the revoked tokens would have expired anyway; then the entry is forgotten, so the list stays bounded."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from contracts import RevocationReason, TokenRevokedV1
from servicekit import revocations
from servicekit.revocations import DenyList


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def revoked(
    user: uuid.UUID, *, jti: str | None = None, not_before: float | None = None, expires: float
) -> TokenRevokedV1:
    return TokenRevokedV1(
        user_id=user,
        jti=jti,
        not_before=at(not_before) if not_before is not None else None,
        expires_at=at(expires),
        reason=RevocationReason.LOGOUT if jti else RevocationReason.PASSWORD_CHANGED,
        revoked_at=at(time.time()),
    )


def test_a_revoked_token_id_is_refused_and_others_are_not() -> None:
    user, deny = uuid.uuid4(), DenyList()
    deny.revoke(revoked(user, jti="a", expires=time.time() + 60))
    assert deny.refuses(user, "a", int(time.time()))
    assert not deny.refuses(user, "b", int(time.time()))
    assert not deny.refuses(uuid.uuid4(), None, int(time.time()))


def test_a_user_wide_revocation_refuses_tokens_issued_before_it_only() -> None:
    user, now, deny = uuid.uuid4(), int(time.time()), DenyList()
    deny.revoke(revoked(user, not_before=now, expires=now + 60))
    assert deny.refuses(user, "x", now - 1)
    assert not deny.refuses(user, "y", now)
    assert not deny.refuses(uuid.uuid4(), "z", now - 1)


def test_the_latest_not_before_wins_whatever_the_order_of_arrival() -> None:
    user, now, deny = uuid.uuid4(), int(time.time()), DenyList()
    deny.revoke(revoked(user, not_before=now, expires=now + 60))
    deny.revoke(revoked(user, not_before=now - 30, expires=now + 30))
    assert deny.refuses(user, None, now - 1)


def test_a_revocation_that_is_over_is_not_kept() -> None:
    deny = DenyList()
    deny.revoke(revoked(uuid.uuid4(), jti="old", expires=time.time() - 1))
    assert len(deny) == 0


def test_expired_entries_are_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    deny, now = DenyList(), time.time()
    for n in range(100):
        deny.revoke(revoked(uuid.uuid4(), jti=f"t{n}", expires=now + 10))
    assert len(deny) == 100
    monkeypatch.setattr(revocations.time, "time", lambda: now + revocations.PRUNE_INTERVAL_SECONDS + 11)
    deny.revoke(revoked(uuid.uuid4(), jti="late", expires=now + 3600))
    assert len(deny) == 1


def test_an_event_naming_nothing_is_not_a_revocation() -> None:
    with pytest.raises(ValueError, match="jti"):
        TokenRevokedV1(
            user_id=uuid.uuid4(),
            expires_at=at(time.time()),
            reason=RevocationReason.LOGOUT,
            revoked_at=at(time.time()),
        )
