"""The composition root of notify_svc: resources as cleanup_ctx entries, routes, consumers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from contracts.topology import (
    NOTIFY_DELETIONS,
    NOTIFY_USER_DIRECTORY,
    NOTIFY_VIDEO_OUTCOMES,
    NOTIFY_WEBHOOK_ALERTS,
    QueueSpec,
)
from notify_svc import api
from notify_svc.consumers import alert_handlers, deletion_handlers, directory_handlers, outcome_handlers
from notify_svc.emails import Sender, Templates
from notify_svc.mailer import Mailer, SmtpConfig
from notify_svc.openapi import SPEC
from notify_svc.service import Notifier
from notify_svc.settings import Settings
from servicekit.db import create_pool
from servicekit.http import base_app
from servicekit.runtime import (
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

SERVICE = "notify_svc"
MIGRATIONS = Path(__file__).parent / "migrations"
LOG_POOL = web.AppKey("notification_log_pool", asyncpg.Pool)
MAILER = web.AppKey("mailer", Mailer)


def create_app(
    settings: Settings,
    *,
    outcome_queue: QueueSpec = NOTIFY_VIDEO_OUTCOMES,
    directory_queue: QueueSpec = NOTIFY_USER_DIRECTORY,
    alert_queue: QueueSpec = NOTIFY_WEBHOOK_ALERTS,
) -> web.Application:
    """The queues default to the contract's; other specs (declared by the caller) let a test run the same service
    with short retry delays."""
    app = base_app(SERVICE, openapi_spec=SPEC, trusted_proxies=settings.trusted_proxies)
    app[TOKEN_VERIFIER] = TokenVerifier(
        load_public_keys(settings.jwt_public_keys_dir), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.cleanup_ctx.append(database(settings, MIGRATIONS))
    app.cleanup_ctx.append(_log_pool(settings))
    app.cleanup_ctx.append(broker(settings, SERVICE, required=False))  # GET /notifications needs the database only
    app.cleanup_ctx.append(revocation_feed(SERVICE))  # refuses revoked tokens
    app.cleanup_ctx.append(outbox_relay(settings, SERVICE))
    app.cleanup_ctx.append(_mailer(settings))
    bindings = consumer_bindings(settings, outcome_queue, directory_queue, alert_queue)
    app.cleanup_ctx.append(consumers(SERVICE, bindings, prefetch=settings.db_pool_max))
    api.add_routes(app)
    return app


def _log_pool(settings: Settings) -> CleanupCtx:
    """A small pool of its own for the status of failed attempts (see service.py)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url.get_secret_value(), settings.db_schema, min_size=0, max_size=2)
        app[LOG_POOL] = pool
        yield
        await pool.close()

    return ctx


def _mailer(settings: Settings) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        mailer = Mailer(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                starttls=settings.smtp_starttls,
                use_tls=settings.smtp_use_tls,
                timeout=settings.smtp_timeout_seconds,
            ),
            max_idle=settings.db_pool_max,  # as many as the outcome consumer sends at once, so none is re-opened
        )
        app[MAILER] = mailer
        yield
        await mailer.close()

    return ctx


def consumer_bindings(
    settings: Settings, outcome_queue: QueueSpec, directory_queue: QueueSpec, alert_queue: QueueSpec
) -> BindingsFactory:
    templates = Templates(settings.mail_language)
    sender = Sender.parse(settings.mail_from)

    def bindings(app: web.Application) -> Bindings:
        notifier = Notifier(templates, app[MAILER], sender, settings.app_base_url, log_pool=app[LOG_POOL])
        return [
            (directory_queue, directory_handlers()),
            (outcome_queue, outcome_handlers(outcome_queue, notifier)),
            (alert_queue, alert_handlers(notifier)),
            (NOTIFY_DELETIONS, deletion_handlers()),
        ]

    return bindings
