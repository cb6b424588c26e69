"""The composition root: create_app(settings) wires the resources, the key material and the routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog
from aiohttp import web

from auth_svc import account_api, api, service
from auth_svc.keys import load_keys
from auth_svc.openapi import OPENAPI_SPEC
from auth_svc.passwords import Passwords, password_hasher
from auth_svc.service import Accounts, LoginThrottle
from auth_svc.settings import Settings
from servicekit.cpus import available_cpus
from servicekit.http import base_app
from servicekit.runtime import POOL, CleanupCtx, broker, database, outbox_relay, revocation_feed
from servicekit.tokens import TOKEN_VERIFIER, TokenSigner

SERVICE = "auth_svc"
MIGRATIONS = Path(__file__).parent / "migrations"
PRUNE_INTERVAL_SECONDS = 300

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> web.Application:
    signer, verifier = load_keys(settings)  # fails fast on a key set that would reject our own tokens
    app = base_app(SERVICE, openapi_spec=OPENAPI_SPEC, trusted_proxies=settings.trusted_proxies)
    app[TOKEN_VERIFIER] = verifier
    app[api.SETTINGS] = settings
    app.cleanup_ctx.extend(
        [
            database(settings, MIGRATIONS),
            broker(settings, SERVICE, required=False),  # registration publishes through the outbox
            revocation_feed(SERVICE),  # refuses revoked tokens
            outbox_relay(settings, SERVICE),
            _accounts(settings, signer),
            _failure_pruner,
        ]
    )
    api.add_routes(app)
    account_api.add_routes(app)
    return app


def _accounts(settings: Settings, signer: TokenSigner) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        # Bounded: each argon2 hash holds ARGON2_MEMORY_KIB of memory while it runs, and more threads than the
        # container's CPU quota only queue up inside it (a node's 64 cores are not the pod's).
        workers = available_cpus()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2") as executor:
            hasher = password_hasher(settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism)
            passwords = await asyncio.get_running_loop().run_in_executor(executor, Passwords, hasher, executor)
            throttle = LoginThrottle(
                settings.login_max_failures,
                settings.login_account_max_failures,
                settings.login_address_max_failures,
                settings.login_window_seconds,
                settings.register_max_per_address_hour,
            )
            app[api.ACCOUNTS] = Accounts(app[POOL], passwords, signer, throttle, app[TOKEN_VERIFIER].deny_list)
            yield

    return ctx


async def _failure_pruner(app: web.Application) -> AsyncIterator[None]:
    async def prune_forever() -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
            try:
                await service.prune_login_failures(app[api.ACCOUNTS])
            except Exception as exc:  # a database outage must not end the loop
                log.warning("login_failures_prune_failed", error=f"{type(exc).__name__}: {exc}")

    task = asyncio.create_task(prune_forever(), name=f"{SERVICE}-login-failures-pruner")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
