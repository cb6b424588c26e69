"""RS256 access tokens: signing (auth_svc only, it alone has the private key) and local verification (every
service, with public keys from its own configuration; no call to auth_svc).

Verification is strict where python-jose is lenient: the algorithm allowlist is RS256 only, `exp`, `iat`,
`iss`, `aud` and `sub` are required, `kid` must name a configured key, and `iat`/`nbf` in the future (beyond
the clock-skew leeway) are refused."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.exceptions import JOSEError

from servicekit.problems import ProblemType
from servicekit.revocations import DenyList
from servicekit.sessions import SAFE_METHODS, check_same_origin, session_token

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30
_DECODE_OPTIONS = {
    "require_exp": True,
    "require_iat": True,
    "require_aud": True,
    "require_iss": True,
    "require_sub": True,
    "leeway": LEEWAY_SECONDS,
}


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (for logs, never for the client)."""


class RevokedToken(InvalidToken):
    """A genuine, unexpired token that was revoked (signed out, password changed, account deleted)."""


@dataclass(frozen=True)
class Claims:
    user_id: uuid.UUID
    email: str
    token_id: str | None
    expires_at: int
    auth_time: int  # when the user gave their password: refreshed sessions keep it
    issued_at: int = 0  # `iat`: a revocation of all the user's tokens refuses those issued before it


def load_public_keys(directory: Path) -> dict[str, str]:
    """Every `<kid>.pem` in the directory; several keys let a signing key rotate without logging users out."""
    keys = {path.stem: path.read_text() for path in sorted(directory.glob("*.pem"))}
    if not keys:
        raise RuntimeError(f"no public keys (*.pem) in {directory}")
    return keys


class TokenVerifier:
    """Verifies RS256 tokens against the configured public keys, and remembers the tokens it accepted, keyed by
    their exact bytes (signature included), so a client that reuses its token pays for parsing and the RSA check
    once. Only `exp` can turn an accepted token invalid later (`iat`/`nbf` only move into the past), so it is
    checked again on every hit, with the same clock-skew leeway as the first verification, and so is the deny-list
    of revoked tokens (servicekit.revocations), which can refuse a token at any time. Refused tokens are never
    remembered; the oldest entry goes once `max_entries` are held."""

    def __init__(
        self, public_keys: Mapping[str, str], *, issuer: str, audience: str, max_entries: int = 10_000
    ) -> None:
        self._keys = dict(public_keys)
        # Parsed once: parsing a PEM per request costs more than the signature check itself.
        self._verifying_keys = {kid: jwk.construct(pem, ALGORITHM) for kid, pem in self._keys.items()}
        self._issuer = issuer
        self._audience = audience
        self._accepted: OrderedDict[str, Claims] = OrderedDict()
        self._max_entries = max_entries
        self.deny_list = DenyList()

    def verify(self, token: str) -> Claims:
        """The token's claims, or InvalidToken (RevokedToken for a revoked one)."""
        claims = self._verified(token)
        if self.deny_list.refuses(claims.user_id, claims.token_id, claims.issued_at):
            raise RevokedToken("token revoked")
        return claims

    def _verified(self, token: str) -> Claims:
        claims = self._accepted.get(token)
        if claims is None:
            claims = self._verify(token)
            self._accepted[token] = claims
            if len(self._accepted) > self._max_entries:
                self._accepted.popitem(last=False)
        elif claims.expires_at < int(time.time()) - LEEWAY_SECONDS:  # whole seconds, as python-jose counts
            del self._accepted[token]
            raise InvalidToken("token expired")
        else:
            self._accepted.move_to_end(token)
        return claims

    def _verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not allowed")
        key = self._verifying_keys.get(str(header.get("kid")))
        if key is None:
            raise InvalidToken(f"unknown key id {header.get('kid')!r}")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options=_DECODE_OPTIONS,
            )
        except JOSEError as exc:
            raise InvalidToken(str(exc)) from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            # python-jose calls int() on exp/iat/nbf without catching these: a list, null or Infinity there
            # must be a 401, not a 500.
            raise InvalidToken(f"malformed time claim: {type(exc).__name__}") from None
        return _claims(claims)

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JSON Web Key Set."""
        keys = []
        for kid, pem in self._keys.items():
            entry = jwk.construct(pem, ALGORITHM).to_dict()
            keys.append({**entry, "kid": kid, "use": "sig", "alg": ALGORITHM})
        return {"keys": keys}


def _claims(claims: Mapping[str, Any]) -> Claims:
    now = time.time()
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if value is not None and (not isinstance(value, int | float) or value > now + LEEWAY_SECONDS):
            raise InvalidToken(f"{name} is in the future")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidToken("sub is not a user id") from None
    email = claims.get("email")
    if not isinstance(email, str):
        raise InvalidToken("email claim missing")
    auth_time = claims.get("auth_time", claims["iat"])
    if not isinstance(auth_time, int):
        raise InvalidToken("auth_time is not a time")
    return Claims(
        user_id=user_id,
        email=email,
        token_id=claims.get("jti"),
        expires_at=int(claims["exp"]),
        auth_time=auth_time,
        issued_at=int(claims["iat"]),
    )


class TokenSigner:
    def __init__(self, private_key_pem: str, *, key_id: str, issuer: str, audience: str, ttl_seconds: int) -> None:
        # Parsed once: loading an RSA private key validates it, tens of milliseconds of CPU on the event loop.
        self._key = jwk.construct(private_key_pem, ALGORITHM)
        self._kid = key_id
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds

    def sign(self, user_id: uuid.UUID, email: str, auth_time: int | None = None, *, not_before: int = 0) -> str:
        """`auth_time`: when the user last gave their password (now, unless a session is being refreshed).
        `not_before`: the user's tokens issued before it are revoked, so a token made in that same second is dated
        from it (at most a second ahead, well inside the verifiers' leeway) rather than born revoked."""
        now = max(int(time.time()), not_before)
        claims = {
            "sub": str(user_id),
            "email": email,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "auth_time": now if auth_time is None else auth_time,
        }
        token: str = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        return token


def generate_keypair(private_path: Path, public_dir: Path, key_id: str) -> None:
    """Write a new RSA key pair: the private key (mode 600) and `<public_dir>/<key_id>.pem`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_dir.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_path.chmod(0o600)
    (public_dir / f"{key_id}.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)


def authenticated_user(request: web.Request) -> Claims:
    """The caller's claims from `Authorization: Bearer …` (programs) or else the session cookie (the web app),
    or a 401 problem with `WWW-Authenticate`. A cookie-authenticated request that changes something must come
    from our own origin (403 otherwise)."""
    header = request.headers.get("Authorization")
    if header is None and (cookie := session_token(request)) is not None:
        if request.method not in SAFE_METHODS:
            check_same_origin(request)
        token = cookie
    else:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MISSING_TOKEN()
    try:
        return request.app[TOKEN_VERIFIER].verify(token.strip())
    except RevokedToken:
        raise TOKEN_REVOKED() from None
    except InvalidToken:
        raise INVALID_TOKEN() from None


BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="framepipe"'}
_INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="framepipe", error="invalid_token"'}

MISSING_TOKEN = ProblemType(401, "missing_token", "Authentication required.", headers=BEARER_CHALLENGE)
# A genuine token that was revoked: the client must sign in again.
TOKEN_REVOKED = ProblemType(
    401, "token_revoked", "The access token was revoked; sign in again.", headers=_INVALID_TOKEN_CHALLENGE
)
# A token that cannot be trusted (or names a user that is gone).
INVALID_TOKEN = ProblemType(
    401, "invalid_token", "The access token is invalid or expired.", headers=_INVALID_TOKEN_CHALLENGE
)
