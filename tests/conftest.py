"""Shared fixtures: a database and a RabbitMQ vhost of this run's own, a local S3-compatible server and an
SMTP server. Everything is created fresh for the run and removed at the end."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from ops.dev.localinfra import LocalS3, LocalSMTP, MailSink
from tests.support.broker import drop_vhost, make_vhost
from tests.support.database import scratch_database
from tests.support.settings import AMQP_BASE, PG_ADMIN_DSN, RUN_ID
from tests.support.tokens import JwtKeys, make_jwt_keys, signer_for


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with scratch_database(PG_ADMIN_DSN, f"fp_test_{RUN_ID}") as url:
        yield url


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


@pytest.fixture(scope="session")
def jwt_keys(tmp_path_factory: pytest.TempPathFactory) -> JwtKeys:
    """An RS256 key pair for this run: auth_svc signs with it, the other services verify with its public half."""
    return make_jwt_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def token_for(jwt_keys: JwtKeys) -> Callable[..., str]:
    """Mint a valid access token for any user id (and, optionally, sign-in time), as auth_svc would."""
    return signer_for(jwt_keys).sign
