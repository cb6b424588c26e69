"""The whole system for the end-to-end tests, started exactly as `framepipe dev` starts it: once for the e2e package
and stopped as soon as its last test is done (the rest of the suite should not share the machine with it), on free
ports, with a database, a RabbitMQ vhost, a bucket and a var directory of its own. Services' output goes to
`<var>/services.log` (its path is printed when the stack starts; FRAMEPIPE_E2E_KEEP=1 keeps it)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ops.client.api import BaseUrls
from ops.dev.env import AMBIENT_SETTINGS, DEFAULTS, Ports
from ops.dev.localinfra import MailSink, free_port
from ops.dev.stack import DevConfig, DevStack
from tests.e2e.users import User, sign_up
from tests.support.broker import drop_vhost, make_vhost
from tests.support.database import database_url_on, drop_database
from tests.support.settings import AMQP_BASE, PG_ADMIN_DSN, RUN_ID

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
async def stack() -> AsyncIterator[DevStack]:
    # Not under pytest's basetemp: other runs on this machine rotate it away while the stack still writes there.
    var = Path(tempfile.mkdtemp(prefix=f"framepipe-e2e-{RUN_ID}-"))
    vhost = make_vhost("e2e")
    database = f"fp_test_{RUN_ID}_e2e"
    database_url = database_url_on(PG_ADMIN_DSN, database)
    settings = {k: v for k, v in os.environ.items() if k not in AMBIENT_SETTINGS}
    settings.update(DEFAULTS)
    settings.update(
        DATABASE_URL=database_url,
        AMQP_URL=f"{AMQP_BASE}/{vhost}",
        SMTP_PORT=str(free_port()),
        S3_BUCKET=f"fp-e2e-{RUN_ID}",
        # Videos of 90 s or more go out in segments of about 30 s to both workers (test_long_videos.py).
        SPLIT_MIN_SECONDS="90",
        SPLIT_SEGMENT_SECONDS="30",
    )
    log = (var / "services.log").open("w", buffering=1)
    print(f"e2e stack: services log at {var / 'services.log'}")
    # Two video_svc replicas behind the gateway, as in production: live changes must reach a browser whichever
    # replica its event stream is on. Two processor workers (`framepipe dev --processors 2`): a long video's
    # segments must be shared between them.
    config = DevConfig(
        settings=settings,
        root=ROOT,
        var_dir=var,
        ports=Ports(base=None),
        output=log,
        ready_timeout=100,
        video_replicas=2,
        processors=2,
    )
    stack = DevStack(config)
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()
        log.close()
        await drop_database(PG_ADMIN_DSN, database)
        drop_vhost(vhost)
        if not os.environ.get("FRAMEPIPE_E2E_KEEP"):
            shutil.rmtree(var, ignore_errors=True)


@pytest.fixture(scope="package")
def sink(stack: DevStack) -> MailSink:
    """The mailbox every e-mail of the run lands in (the stack's local SMTP sink)."""
    assert stack.mail_sink is not None
    return stack.mail_sink


@pytest.fixture(scope="package")
def urls(stack: DevStack) -> BaseUrls:
    return BaseUrls(stack.url("auth"), stack.url("video"), stack.url("notify"), stack.url("webhook"))


@pytest.fixture(scope="package")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        yield session


@pytest.fixture
async def alice(http: aiohttp.ClientSession, urls: BaseUrls) -> User:
    return await sign_up(http, urls, "alice")


@pytest.fixture
async def bob(http: aiohttp.ClientSession, urls: BaseUrls) -> User:
    return await sign_up(http, urls, "bob")
