"""servicekit.tokens.TokenVerifier remembers the tokens it accepted: a remembered token still expires, the
memory is bounded, and a tampered token is never taken for a remembered one."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from servicekit.tokens import (
    LEEWAY_SECONDS,
    InvalidToken,
    TokenSigner,
    TokenVerifier,
    generate_keypair,
    load_public_keys,
)


def _verifier_and_signer(tmp_path: Path, ttl_seconds: int) -> tuple[TokenVerifier, TokenSigner]:
    generate_keypair(tmp_path / "private.pem", tmp_path / "public", "k1")
    verifier = TokenVerifier(load_public_keys(tmp_path / "public"), issuer="iss", audience="aud", max_entries=2)
    signer = TokenSigner(
        (tmp_path / "private.pem").read_text(), key_id="k1", issuer="iss", audience="aud", ttl_seconds=ttl_seconds
    )
    return verifier, signer


def test_a_remembered_token_is_refused_once_it_expires(tmp_path: Path) -> None:
    # Expires just inside the clock-skew leeway: accepted now, expired two seconds later.
    verifier, signer = _verifier_and_signer(tmp_path, ttl_seconds=-LEEWAY_SECONDS + 2)
    token = signer.sign(uuid.uuid4(), "a@example.com")
    assert verifier.verify(token).email == "a@example.com"
    time.sleep(3.2)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_remembering_is_bounded_and_a_tampered_token_is_never_taken_for_a_remembered_one(tmp_path: Path) -> None:
    verifier, signer = _verifier_and_signer(tmp_path, ttl_seconds=600)
    tokens = [signer.sign(uuid.uuid4(), f"u{i}@example.com") for i in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._accepted) == 2
    with pytest.raises(InvalidToken):
        verifier.verify(tokens[0][:-2] + ("AA" if not tokens[0].endswith("AA") else "BB"))
