"""The composition root of video_svc."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from contracts.topology import VIDEO_DEAD_JOBS, VIDEO_DELETED_OBJECTS, VIDEO_PROCESSING_UPDATES, VIDEO_USER_DELETIONS
from servicekit.http import base_app
from servicekit.runtime import (
    POOL,
    STORAGE,
    Bindings,
    CleanupCtx,
    broker,
    consumers,
    database,
    outbox_relay,
    revocation_feed,
    storage,
)
from servicekit.tokens import TOKEN_VERIFIER, TokenVerifier, load_public_keys
from video_svc import api
from video_svc.admission import UploadSlots
from video_svc.consumers import DEAD_JOBS, deleted_objects, processing_updates, user_deletions
from video_svc.live import LiveChanges
from video_svc.openapi import openapi_spec
from video_svc.settings import Settings

SERVICE = "video_svc"
MIGRATIONS = Path(__file__).parent / "migrations"
# Under sources/, the prefix its IAM role writes (deploy/terraform/modules/iam).
READINESS_KEY = "sources/.readyz"


def create_app(settings: Settings) -> web.Application:
    # Uploads are read as a multipart stream, which client_max_size does not limit; the default 1 MiB cap
    # only applies to bodies read whole, and video_svc reads none.
    app = base_app(SERVICE, openapi_spec=openapi_spec(settings), trusted_proxies=settings.trusted_proxies)
    app[api.SETTINGS] = settings
    app[api.UPLOAD_SLOTS] = UploadSlots(settings.max_concurrent_uploads_per_user, settings.max_concurrent_uploads)
    app[TOKEN_VERIFIER] = TokenVerifier(
        load_public_keys(settings.jwt_public_keys_dir), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.cleanup_ctx.extend(
        [
            database(settings, MIGRATIONS),
            # Listing, status, downloads (presigned offline) and deletes need neither the broker (the outbox
            # waits for it) nor S3: a blip of either must not take every replica out of the load balancer.
            broker(settings, SERVICE, required=False),
            revocation_feed(SERVICE),  # refuses revoked tokens
            storage(settings, READINESS_KEY, required=False),
            outbox_relay(settings, SERVICE),
            live_changes(settings),
            consumers(SERVICE, consumer_bindings),
        ]
    )
    app.on_shutdown.append(end_event_streams)
    api.add_routes(app)
    return app


def consumer_bindings(app: web.Application) -> Bindings:
    return [
        (VIDEO_PROCESSING_UPDATES, processing_updates(app[STORAGE])),
        (VIDEO_DEAD_JOBS, DEAD_JOBS),
        (VIDEO_DELETED_OBJECTS, deleted_objects(app[STORAGE])),
        (VIDEO_USER_DELETIONS, user_deletions(app[STORAGE])),
    ]


def live_changes(settings: Settings) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        live = LiveChanges(app[POOL], settings.database_url.get_secret_value(), settings.db_schema)
        await live.start()
        app[api.LIVE] = live
        yield
        await live.close()

    return ctx


async def end_event_streams(app: web.Application) -> None:
    """Shutdown runs this before it waits for open requests: event streams would never finish by themselves."""
    if api.LIVE in app:
        app[api.LIVE].end_streams()
