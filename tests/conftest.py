"""Shared fixtures: a database and a RabbitMQ vhost of this run's own, a local S3-compatible server and an
SMTP server. Everything is created fresh for the run and removed at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from ops.localinfra import LocalS3, LocalSMTP, MailSink
from servicekit.tokens import TokenSigner, generate_keypair

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("TEST_AMQP_BASE", "amqp://guest:guest@127.0.0.1:5672")
RUN_ID = uuid.uuid4().hex[:8]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    name = f"fp_test_{RUN_ID}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
    )
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.close()


def make_vhost(label: str) -> str:
    vhost = f"fp_test_{RUN_ID}_{label}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return vhost


def drop_vhost(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def amqp_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A vhost of this module's own: queues start empty and other modules cannot interfere."""
    label = request.module.__name__.rsplit(".", 1)[-1][:40]
    vhost = make_vhost(label)
    yield f"{AMQP_BASE}/{vhost}"
    drop_vhost(vhost)


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    with LocalS3() as server:
        yield server


@pytest.fixture
def mail_sink() -> MailSink:
    return MailSink()


@pytest.fixture
def smtp_server(mail_sink: MailSink) -> Iterator[LocalSMTP]:
    server = LocalSMTP(mail_sink)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    assert path, "ffmpeg is required (make test installs it through .ci/run; locally: apt-get install ffmpeg)"
    return path


@pytest.fixture
def tmp_media(tmp_path: Path) -> Path:
    path = tmp_path / "media"
    path.mkdir()
    return path


@dataclass(frozen=True)
class JwtKeys:
    private_key_file: Path
    public_keys_dir: Path
    key_id: str
    issuer: str = "framepipe-auth"
    audience: str = "framepipe"


@pytest.fixture(scope="session")
def jwt_keys(tmp_path_factory: pytest.TempPathFactory) -> JwtKeys:
    """An RS256 key pair for this run: auth_svc signs with it, the other services verify with its public half."""
    root = tmp_path_factory.mktemp("keys")
    keys = JwtKeys(private_key_file=root / "private.pem", public_keys_dir=root / "public", key_id="test-key-1")
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


@pytest.fixture(scope="session")
def token_for(jwt_keys: JwtKeys) -> Callable[..., str]:
    """Mint a valid access token for any user id (and, optionally, sign-in time), as auth_svc would."""
    return signer_for(jwt_keys).sign
