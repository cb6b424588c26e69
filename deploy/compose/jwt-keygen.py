"""Makes the Compose stack's JWT signing key pair once, into the shared `jwt-keys` volume.

Runs as root in a one-shot container built from the service image (it carries `cryptography`), then
hands the files to the services' user. Idempotent: an existing key is kept, so tokens survive restarts.
"""

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEYS = Path("/keys")
KID = os.environ.get("JWT_KEY_ID", "compose-1")
SERVICE_UID = 10001

private_path = KEYS / "private" / "private.pem"
public_path = KEYS / "public" / f"{KID}.pem"
for directory in (private_path.parent, public_path.parent):
    directory.mkdir(parents=True, exist_ok=True)
    os.chown(directory, SERVICE_UID, SERVICE_UID)
if not private_path.exists():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
os.chmod(private_path.parent, 0o700)
os.chmod(private_path, 0o600)
os.chmod(public_path, 0o644)
os.chown(private_path, SERVICE_UID, SERVICE_UID)
os.chown(public_path, SERVICE_UID, SERVICE_UID)
print(f"JWT key pair ready, kid {KID}")
