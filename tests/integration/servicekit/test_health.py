"""Readiness tells the truth: 503 while the database or a required broker is unreachable, 200 once it is back,
and the pool and the connection recover by themselves. A service that publishes through its outbox only reports
the broker as `degraded` and keeps answering requests (and stays in the load balancer) while it is away."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ops.dev.tcpproxy import TcpProxy
from servicekit import runtime
from servicekit.http import base_app
from servicekit.settings import BaseServiceSettings, DatabaseSettings
from tests.support.broker import drop_vhost, make_vhost
from tests.support.database import scratch_database
from tests.support.polling import eventually
from tests.support.settings import AMQP_BASE, PG_ADMIN_DSN

Client = TestClient[web.Request, web.Application]


class ProbeSettings(BaseServiceSettings, DatabaseSettings):
    http_port: int = 0
    db_schema: str = "probe"


@contextlib.asynccontextmanager
async def probe_app(
    database_url: str, amqp_url: str, tmp_path: Path, *, broker_required: bool = True
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = ProbeSettings(database_url=database_url, amqp_url=amqp_url)  # type: ignore[arg-type]
    app = base_app("probe")
    app.router.add_get("/probe", query_database)
    app.cleanup_ctx.append(runtime.database(settings, tmp_path))
    app.cleanup_ctx.append(runtime.broker(settings, "probe", required=broker_required))
    async with TestClient(TestServer(app)) as client:
        yield client


async def query_database(request: web.Request) -> web.Response:
    async with request.app[runtime.POOL].acquire() as conn:
        return web.json_response({"one": await conn.fetchval("SELECT 1")})


async def ready_status(client: Client) -> int:
    response = await client.get("/readyz")
    return response.status


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    """A database this test may make unavailable without touching anyone else's."""
    async with scratch_database(PG_ADMIN_DSN, f"fp_health_{uuid.uuid4().hex[:8]}") as url:
        yield url


async def terminate_backends(database: str) -> int:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    killed = await admin.fetchval(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()) t",
        database,
    )
    await admin.close()
    return int(killed)


async def test_the_pool_recovers_after_its_connections_are_terminated(
    own_database: str, amqp_url: str, tmp_path: Path
) -> None:
    async with probe_app(own_database, amqp_url, tmp_path) as client:
        assert await ready_status(client) == 200
        assert await terminate_backends(own_database.rsplit("/", 1)[-1]) >= 1
        await eventually(lambda: _is(ready_status(client), 200), timeout=10)
        body = await (await client.get("/readyz")).json()
        assert body["checks"]["database"] == "ok"


async def test_readiness_is_503_while_the_database_refuses_connections_and_200_after(
    own_database: str, amqp_url: str, tmp_path: Path
) -> None:
    name = own_database.rsplit("/", 1)[-1]
    async with probe_app(own_database, amqp_url, tmp_path) as client:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await terminate_backends(name)
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"]["database"].startswith("failed")
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await eventually(lambda: _is(ready_status(client), 200), timeout=10)


async def test_readiness_is_503_while_the_broker_is_unreachable_and_200_after_it_reconnects(
    database_url: str, tmp_path: Path
) -> None:
    vhost = make_vhost("health_broker")
    proxy = await TcpProxy("127.0.0.1", 5672).start()
    try:
        host = AMQP_BASE.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
        async with probe_app(database_url, f"{host}/{vhost}", tmp_path) as client:
            assert await ready_status(client) == 200
            await proxy.cut()
            await eventually(lambda: _is(ready_status(client), 503), timeout=10)
            body = await (await client.get("/readyz")).json()
            assert body["checks"]["broker"].startswith("failed")
            await proxy.restore()
            await eventually(lambda: _is(ready_status(client), 200), timeout=20)
    finally:
        await proxy.cut()
        drop_vhost(vhost)


async def test_a_service_whose_broker_is_not_required_stays_ready_and_answers_while_the_broker_is_away(
    database_url: str, tmp_path: Path
) -> None:
    vhost = make_vhost("health_degraded")
    proxy = await TcpProxy("127.0.0.1", 5672).start()
    try:
        host = AMQP_BASE.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
        async with probe_app(database_url, f"{host}/{vhost}", tmp_path, broker_required=False) as client:
            assert (await (await client.get("/readyz")).json())["status"] == "ok"
            await proxy.cut()
            await eventually(lambda: _broker_failed(client), timeout=10)
            response = await client.get("/readyz")
            assert response.status == 200
            assert (await response.json())["status"] == "degraded"
            assert (await client.get("/probe")).status == 200
            await proxy.restore()
            await eventually(lambda: _broker_ok(client), timeout=20)
    finally:
        await proxy.cut()
        drop_vhost(vhost)


async def _broker_failed(client: Client) -> bool:
    body = await (await client.get("/readyz")).json()
    return str(body["checks"]["broker"]).startswith("failed")


async def _broker_ok(client: Client) -> bool:
    body = await (await client.get("/readyz")).json()
    return bool(body["checks"]["broker"] == "ok" and body["status"] == "ok")


async def _is(status: object, expected: int) -> bool:
    return await status == expected  # type: ignore[misc]


async def test_a_request_that_needs_an_unreachable_database_gets_503_with_retry_after(
    own_database: str, amqp_url: str, tmp_path: Path
) -> None:
    proxy = await TcpProxy("127.0.0.1", 5432).start()
    try:
        through_proxy = own_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        async with probe_app(through_proxy, amqp_url, tmp_path) as client:
            assert (await client.get("/probe")).status == 200
            await proxy.cut()
            response = await client.get("/probe")
            assert response.status == 503
            assert response.headers["Retry-After"] == "2"
            assert (await response.json())["code"] == "service_unavailable"
            await proxy.restore()
            await eventually(lambda: _is(_probe_status(client), 200), timeout=10)
    finally:
        await proxy.cut()


async def _probe_status(client: Client) -> int:
    return (await client.get("/probe")).status
