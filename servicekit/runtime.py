"""Resources as `cleanup_ctx` entries, shared by the services' composition roots (app.py): create, yield,
close. Each one registers the readiness check that tells the truth about it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import asyncpg
import structlog
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from opentelemetry import trace

from contracts.topology import QueueSpec
from servicekit import tracing
from servicekit.bus import Consumer, Handler, Publisher, check_broker, connect, declare_topology
from servicekit.bus.batch import BatchConsumer, Batched
from servicekit.db import check_database, create_pool, migrate
from servicekit.http import add_readiness_check
from servicekit.logging import configure_logging
from servicekit.outbox import OutboxRelay
from servicekit.revocations import RevocationFeed
from servicekit.settings import BaseServiceSettings, DatabaseSettings, StorageSettings
from servicekit.storage import Storage, open_storage
from servicekit.tokens import TOKEN_VERIFIER

log = structlog.get_logger(__name__)

POOL = web.AppKey("pool", asyncpg.Pool)
AMQP = web.AppKey("amqp", AbstractRobustConnection)
PUBLISHER = web.AppKey("publisher", Publisher)
STORAGE = web.AppKey("storage", Storage)
CONSUMERS = web.AppKey("consumers", list[Consumer])
OPERATORS = web.AppKey("bus_operators", frozenset[str])

CLOSE_TIMEOUT = 5.0
S = TypeVar("S", bound=BaseServiceSettings)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
Bindings = Sequence[tuple[QueueSpec, Mapping[str, Handler] | Batched]]
# Called once the resources the handlers need are open (the cleanup contexts before `consumers`), with the app
# that holds them: handlers receive those resources as plain arguments, never look them up per message.
BindingsFactory = Callable[[web.Application], Bindings]


def database(settings: DatabaseSettings, migrations_dir: Path) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url.get_secret_value(),
            settings.db_schema,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
        )
        await migrate(pool, settings.db_schema, migrations_dir)
        app[POOL] = pool
        add_readiness_check(app, "database", lambda: check_database(pool))
        yield
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            pool.terminate()

    return ctx


def broker(settings: BaseServiceSettings, service: str, *, required: bool = True) -> CleanupCtx:
    """The robust connection, the declared topology and the confirmed publisher. `required=False` for a service
    that publishes through its outbox only: while the broker is away it still answers every request, so its
    readiness reports the broker as `degraded` and the load balancer keeps sending it traffic."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        connection = await connect(settings.amqp_url.get_secret_value(), service)
        await declare_topology(connection)
        publisher = Publisher(connection, service)
        await publisher.start()
        app[AMQP] = connection
        app[PUBLISHER] = publisher
        app[OPERATORS] = settings.bus_operators
        add_readiness_check(app, "broker", lambda: check_broker(connection), required=required)
        yield
        # Shutdown must finish even while the broker is unreachable (a robust connection would wait for it).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(publisher.close(), CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)

    return ctx


def revocation_feed(service: str) -> CleanupCtx:
    """The deny-list of revoked tokens, filled from the revocations stream (after `broker`): the app starts answering
    only once the revocations still in force are known (servicekit.revocations)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        deny_list = app[TOKEN_VERIFIER].deny_list
        channel = await app[AMQP].channel()
        feed = RevocationFeed(channel, deny_list)
        await feed.start()
        await feed.caught_up()
        log.info("revocations_loaded", service=service, read=feed.read, in_force=len(deny_list))
        yield
        with contextlib.suppress(Exception):
            await asyncio.wait_for(channel.close(), CLOSE_TIMEOUT)

    return ctx


def outbox_relay(settings: DatabaseSettings, service: str) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(
            app[POOL],
            app[PUBLISHER],
            dsn=settings.database_url.get_secret_value(),
            schema=settings.db_schema,
            service=service,
            retention_hours=settings.outbox_retention_hours,
        )
        task = asyncio.create_task(relay.run(), name=f"{service}-outbox-relay")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def consumers(
    service: str,
    bindings: BindingsFactory,
    *,
    prefetch: int = 10,
    use_database: bool = True,
    grace_seconds: float = 10.0,
) -> CleanupCtx:
    """One consumer per binding: per-message handlers, or `Batched` ones (which need the database). `bindings`
    is called when this context is entered, so it must come after the contexts that open what it uses."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        started: list[Consumer] = []
        for spec, handlers in bindings(app):
            consumer: Consumer
            if isinstance(handlers, Batched):
                consumer = BatchConsumer(
                    app[AMQP],
                    spec,
                    handlers,
                    app[PUBLISHER],
                    service=service,
                    pool=app[POOL],
                    prefetch=prefetch,
                    operators=app[OPERATORS],
                )
            else:
                pool = app[POOL] if use_database else None
                consumer = Consumer(
                    app[AMQP],
                    spec,
                    handlers,
                    app[PUBLISHER],
                    service=service,
                    pool=pool,
                    prefetch=prefetch,
                    operators=app[OPERATORS],
                )
            await consumer.start()
            started.append(consumer)
        app[CONSUMERS] = started
        yield
        await asyncio.gather(*(c.stop(grace_seconds) for c in started))

    return ctx


def storage(settings: StorageSettings, readiness_key: str, *, required: bool = True) -> CleanupCtx:
    """The S3 client. Readiness reads (or writes, when missing) `readiness_key`, which must lie under a prefix
    the service's IAM role may read and write: no s3:ListBucket or HeadBucket permission is needed."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_storage(settings, readiness_key=readiness_key) as store:
            app[STORAGE] = store
            add_readiness_check(app, "storage", store.check, required=required)
            yield

    return ctx


def serve(service: str, settings: S, create_app: Callable[[S], web.Application]) -> None:
    """A service's `__main__`: configure logging once, build the app, serve until SIGTERM (graceful shutdown
    runs every cleanup context)."""
    configure_logging(settings.log_level, settings.log_format, service=service)
    provider = tracing.tracer_provider(settings, service)
    if provider is not None:
        trace.set_tracer_provider(provider)
    app = create_app(settings)
    app.on_startup.append(_freeze_start_up_objects)
    try:
        _run(app, settings)
    finally:
        if provider is not None:
            provider.shutdown()  # exports the spans still buffered


def _run(app: web.Application, settings: BaseServiceSettings) -> None:
    web.run_app(
        app,
        host=settings.http_host,
        port=settings.http_port,
        access_log=None,
        print=None,
        shutdown_timeout=settings.http_shutdown_timeout_seconds,
    )


async def _freeze_start_up_objects(app: web.Application) -> None:
    """Move everything allocated while starting (modules, botocore's service models, templates…) out of the
    garbage collector's reach: they live as long as the process, and every full collection walked them all,
    stalling the event loop for tens of milliseconds at a time under load (the p99 of GET /video)."""
    gc.collect()
    gc.freeze()
