"""The composition root of webhook_svc: resources as cleanup_ctx entries, routes, the consumer and the dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from contracts.topology import WEBHOOK_EVENTS, WEBHOOK_USER_DELETIONS, QueueSpec
from servicekit.http import base_app
from servicekit.runtime import (
    POOL,
    Bindings,
    BindingsFactory,
    CleanupCtx,
    broker,
    consumers,
    database,
    outbox_relay,
    revocation_feed,
)
from servicekit.tokens import TOKEN_VERIFIER, TokenVerifier, load_public_keys
from webhook_svc import api
from webhook_svc.consumers import deletion_handlers, event_handlers
from webhook_svc.dispatcher import DispatchConfig, Dispatcher
from webhook_svc.egress import AddressPolicy
from webhook_svc.openapi import SPEC
from webhook_svc.sender import Sender
from webhook_svc.settings import Settings

SERVICE = "webhook_svc"
MIGRATIONS = Path(__file__).parent / "migrations"
DISPATCHER = web.AppKey("dispatcher", Dispatcher)


def create_app(settings: Settings, *, event_queue: QueueSpec = WEBHOOK_EVENTS) -> web.Application:
    """`event_queue` defaults to the contract's queue; another spec (declared by the caller) lets a test run the
    service on a queue of its own."""
    app = base_app(SERVICE, openapi_spec=SPEC, trusted_proxies=settings.trusted_proxies)
    app[TOKEN_VERIFIER] = TokenVerifier(
        load_public_keys(settings.jwt_public_keys_dir), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app[api.POLICY] = AddressPolicy.from_setting(settings.webhook_allowed_networks)
    app[api.LIMITS] = {
        "max_endpoints": settings.webhook_max_endpoints_per_user,
        "secret_overlap_hours": settings.webhook_secret_overlap_hours,
    }
    app.cleanup_ctx.append(database(settings, MIGRATIONS))
    app.cleanup_ctx.append(broker(settings, SERVICE))
    app.cleanup_ctx.append(revocation_feed(SERVICE))  # refuses revoked tokens
    app.cleanup_ctx.append(outbox_relay(settings, SERVICE))
    app.cleanup_ctx.append(_dispatcher(settings))
    app.cleanup_ctx.append(consumers(SERVICE, consumer_bindings(event_queue), prefetch=settings.db_pool_max))
    api.add_routes(app)
    return app


def consumer_bindings(event_queue: QueueSpec) -> BindingsFactory:
    def bindings(_: web.Application) -> Bindings:
        return [(event_queue, event_handlers()), (WEBHOOK_USER_DELETIONS, deletion_handlers())]

    return bindings


def _dispatcher(settings: Settings) -> CleanupCtx:
    config = DispatchConfig(
        concurrency=settings.webhook_concurrency,
        per_endpoint=settings.webhook_endpoint_concurrency,
        schedule=settings.retry_schedule,
        disable_after_seconds=settings.webhook_disable_after_hours * 3600,
        lease_seconds=settings.webhook_timeout_seconds + 30,
        retention_days=settings.webhook_retention_days,
    )

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        sender = Sender(
            app[api.POLICY],
            timeout=settings.webhook_timeout_seconds,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
            concurrency=settings.webhook_concurrency,
        )
        await sender.start()
        dispatcher = Dispatcher(
            app[POOL], sender, config, dsn=settings.database_url.get_secret_value(), schema=settings.db_schema
        )
        app[DISPATCHER] = dispatcher
        task = asyncio.create_task(dispatcher.run(), name=f"{SERVICE}-dispatcher")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sender.close()

    return ctx
