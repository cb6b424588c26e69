"""The signing key and the published key set, checked at start-up to belong together: a token signed here
must verify everywhere, so the signing key's public half has to be configured under its own `kid`."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_svc.settings import Settings
from servicekit.tokens import TokenSigner, TokenVerifier, load_public_keys


class KeyConfigurationError(RuntimeError):
    """The configured keys cannot produce tokens the other services accept."""


def load_keys(settings: Settings) -> tuple[TokenSigner, TokenVerifier]:
    private_pem = settings.jwt_private_key_file.read_text()
    public_keys = load_public_keys(settings.jwt_public_keys_dir)
    _check_pair(private_pem, public_keys.get(settings.jwt_key_id), settings.jwt_key_id)
    signer = TokenSigner(
        private_pem,
        key_id=settings.jwt_key_id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.jwt_ttl_seconds,
    )
    verifier = TokenVerifier(public_keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return signer, verifier


def _check_pair(private_pem: str, public_pem: str | None, key_id: str) -> None:
    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise KeyConfigurationError("JWT_PRIVATE_KEY_FILE must hold an RSA private key")
    if public_pem is None:
        raise KeyConfigurationError(f"no public key {key_id}.pem in JWT_PUBLIC_KEYS_DIR for JWT_KEY_ID {key_id!r}")
    public_key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(public_key, rsa.RSAPublicKey) or (
        public_key.public_numbers() != private_key.public_key().public_numbers()
    ):
        raise KeyConfigurationError(f"{key_id}.pem in JWT_PUBLIC_KEYS_DIR is not the public half of the signing key")
