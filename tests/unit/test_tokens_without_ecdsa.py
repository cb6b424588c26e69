"""Tokens are signed, verified and published (JWKS) by python-jose's cryptography backend alone. ecdsa
(CVE-2024-23342), rsa and pyasn1 feed only its pure-Python backends, and no lock installs them
(docs/decisions/0019-tokens-without-ecdsa.md): here they cannot be imported at all, in an interpreter of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from pathlib import Path

BLOCKED = ("ecdsa", "rsa", "pyasn1")
for name in BLOCKED:
    sys.modules[name] = None  # `import name` now raises ImportError, installed or not

import uuid

import jose.backends
from servicekit.tokens import InvalidToken, TokenSigner, TokenVerifier, generate_keypair, load_public_keys

assert jose.backends.RSAKey.__module__ == "jose.backends.cryptography_backend", jose.backends.RSAKey
assert jose.backends.ECKey.__module__ == "jose.backends.cryptography_backend", jose.backends.ECKey
work = Path(sys.argv[1])
generate_keypair(work / "private.pem", work / "public", "k1")
signer = TokenSigner((work / "private.pem").read_text(), key_id="k1", issuer="iss", audience="aud", ttl_seconds=60)
verifier = TokenVerifier(load_public_keys(work / "public"), issuer="iss", audience="aud")
user_id = uuid.uuid4()
token = signer.sign(user_id, "a@example.com")
assert verifier.verify(token).user_id == user_id
head, payload, signature = token.split(".")
forged = ".".join([head, payload, signature[::-1]])
try:
    verifier.verify(forged)
except InvalidToken:
    pass
else:
    raise AssertionError("a token with a reversed signature was accepted")
(key,) = verifier.jwks()["keys"]
assert key["kty"] == "RSA" and key["kid"] == "k1" and key["n"], key
loaded = sorted(name for name, module in sys.modules.items() if name.split(".")[0] in BLOCKED and module is not None)
assert not loaded, loaded
print("signed and verified without", ", ".join(BLOCKED))
"""


def test_tokens_are_signed_verified_and_published_without_ecdsa_rsa_or_pyasn1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "signed and verified without ecdsa, rsa, pyasn1"
