"""Forged, tampered and malformed access tokens are all refused by `GET /me` with 401 and a Bearer
challenge; only a token signed by the configured key with every required claim gets through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.integration.auth.harness import auth_client, auth_settings, new_email, register
from tests.support.tokens import JwtKeys

Signer = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assemble(header: dict[str, Any], claims: dict[str, Any], sign: Signer) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda message: key.sign(message, padding.PKCS1v15(), hashes.SHA256())


class Forge:
    """Builds tokens for one real user: the genuine one, and variations of it."""

    def __init__(self, keys: JwtKeys, user_id: str, email: str) -> None:
        key = serialization.load_pem_private_key(keys.private_key_file.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.key = key
        self.kid = keys.key_id
        self.public_pem = (keys.public_keys_dir / f"{keys.key_id}.pem").read_bytes()
        now = int(time.time())
        self.claims: dict[str, Any] = {
            "sub": user_id,
            "email": email,
            "iss": keys.issuer,
            "aud": keys.audience,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }

    def token(self, *, header: dict[str, Any] | None = None, sign: Signer | None = None, **changes: Any) -> str:
        claims = {k: v for k, v in {**self.claims, **changes}.items() if v is not DROP}
        return assemble(header or {"alg": "RS256", "typ": "JWT", "kid": self.kid}, claims, sign or rs256(self.key))


DROP = object()


@pytest.fixture(scope="module")
async def client(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    async with auth_client(auth_settings(database_url, amqp_url, jwt_keys)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def forge(client: TestClient[Any, Any], jwt_keys: JwtKeys) -> Forge:
    email = new_email()
    user = await register(client, email)
    return Forge(jwt_keys, user["id"], email)


def forgeries(f: Forge) -> dict[str, str]:
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hs256 = {"alg": "HS256", "typ": "JWT", "kid": f.kid}
    return {
        "alg none": f.token(header={"alg": "none", "typ": "JWT", "kid": f.kid}, sign=lambda _: b""),
        "alg none without a signature": f.token(header={"alg": "none", "kid": f.kid}).rsplit(".", 1)[0] + ".",
        "HS256 with the public key as secret": f.token(
            header=hs256, sign=lambda m: hmac.new(f.public_pem, m, hashlib.sha256).digest()
        ),
        "RS512 instead of RS256": f.token(header={"alg": "RS512", "kid": f.kid}),
        "signed by another key": f.token(sign=rs256(other_key)),
        "unknown kid": f.token(header={"alg": "RS256", "kid": "someone-else"}),
        "no kid": f.token(header={"alg": "RS256"}),
        "kid that is not a string": f.token(header={"alg": "RS256", "kid": [f.kid]}),
        "tampered claims": _tamper(f.token(), {**f.claims, "sub": str(uuid.uuid4())}),
        "expired": f.token(iat=now - 7200, exp=now - 3600),
        "expired beyond the clock skew": f.token(exp=now - 60),
        "exp missing": f.token(exp=DROP),
        "exp not a number": f.token(exp="soon"),
        "exp a list": f.token(exp=[now + 600]),
        "exp null": f.token(exp=None),
        "exp infinite": f.token(exp=float("inf")),
        "iat missing": f.token(iat=DROP),
        "iat in the future": f.token(iat=now + 600),
        "iat a list": f.token(iat=[now]),
        "nbf in the future": f.token(nbf=now + 600),
        "nbf a list": f.token(nbf=[now]),
        "aud missing": f.token(aud=DROP),
        "aud wrong": f.token(aud="someone-else"),
        "aud a number": f.token(aud=7),
        "iss missing": f.token(iss=DROP),
        "iss wrong": f.token(iss="evil-issuer"),
        "sub missing": f.token(sub=DROP),
        "sub not a user id": f.token(sub="admin"),
        "email missing": f.token(email=DROP),
        "garbage": "this-is-not-a-token",
        "three garbage segments": "abc.def.ghi",
        "header not an object": f"{b64(b'[1]')}.{b64(json.dumps(f.claims).encode())}.c2ln",
        "payload not an object": assemble({"alg": "RS256", "kid": f.kid}, [1], rs256(f.key)),  # type: ignore[arg-type]
        "two segments": f.token().rsplit(".", 1)[0],
    }


def _tamper(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


async def test_the_genuine_token_is_accepted(client: TestClient[Any, Any], forge: Forge) -> None:
    response = await client.get("/me", headers={"Authorization": f"Bearer {forge.token()}"})
    assert response.status == 200
    assert (await response.json())["email"] == forge.claims["email"]


async def test_every_forged_or_malformed_token_is_401_with_a_bearer_challenge(
    client: TestClient[Any, Any], forge: Forge
) -> None:
    accepted = {}
    for name, token in forgeries(forge).items():
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        body = await response.json()
        if (response.status, body.get("code")) != (401, "invalid_token") or "WWW-Authenticate" not in response.headers:
            accepted[name] = (response.status, body.get("code"))
    assert accepted == {}


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
async def test_an_empty_or_non_bearer_authorization_is_401(client: TestClient[Any, Any], header: str) -> None:
    response = await client.get("/me", headers={"Authorization": header})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["code"] == "missing_token"
