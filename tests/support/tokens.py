"""The run's token keys: an RS256 key pair auth_svc signs with and every other service verifies with, and
tokens minted as auth_svc would mint them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from servicekit.tokens import TokenSigner, generate_keypair

TokenFor = Callable[[uuid.UUID, str], str]


@dataclass(frozen=True)
class JwtKeys:
    private_key_file: Path
    public_keys_dir: Path
    key_id: str
    issuer: str = "framepipe-auth"
    audience: str = "framepipe"


def make_jwt_keys(root: Path, key_id: str = "test-key-1") -> JwtKeys:
    """A new key pair under `root`."""
    keys = JwtKeys(private_key_file=root / "private.pem", public_keys_dir=root / "public", key_id=key_id)
    generate_keypair(keys.private_key_file, keys.public_keys_dir, keys.key_id)
    return keys


def signer_for(keys: JwtKeys, ttl_seconds: int = 3600) -> TokenSigner:
    """A signer of tokens every test service accepts, as auth_svc's would be."""
    return TokenSigner(
        keys.private_key_file.read_text(),
        key_id=keys.key_id,
        issuer=keys.issuer,
        audience=keys.audience,
        ttl_seconds=ttl_seconds,
    )
