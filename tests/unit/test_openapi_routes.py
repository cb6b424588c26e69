"""Each service's OpenAPI document and its router agree: every route a handler answers (the operational ones
aside: health, readiness, metrics and the document itself) is documented, and every documented operation is
routed. The apps are built by the same `create_app` production uses; nothing is started."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from auth_svc.app import create_app as auth_app
from auth_svc.settings import Settings as AuthSettings
from notify_svc.app import create_app as notify_app
from notify_svc.settings import Settings as NotifySettings
from servicekit.http import OPENAPI
from servicekit.tokens import generate_keypair
from video_svc.app import create_app as video_app
from video_svc.settings import Settings as VideoSettings
from webhook_svc.app import create_app as webhook_app
from webhook_svc.settings import Settings as WebhookSettings

OPERATIONAL = {"/healthz", "/readyz", "/metrics", "/openapi.json"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _auth(keys: Path) -> web.Application:
    settings = AuthSettings(
        _env_file=None, jwt_public_keys_dir=keys / "public", jwt_private_key_file=keys / "private.pem", jwt_key_id="k1"
    )
    return auth_app(settings)


def _verifying(create: Callable[[Any], web.Application], settings: type[Any]) -> Callable[[Path], web.Application]:
    return lambda keys: create(settings(_env_file=None, jwt_public_keys_dir=keys / "public"))


APPS = {
    "auth": _auth,
    "video": _verifying(video_app, VideoSettings),
    "notify": _verifying(notify_app, NotifySettings),
    "webhook": _verifying(webhook_app, WebhookSettings),
}


def _routed(app: web.Application) -> set[tuple[str, str]]:
    routes = {(route.method.lower(), route.resource.canonical) for route in app.router.routes() if route.resource}
    return {(method, path) for method, path in routes if method != "head"}  # aiohttp adds HEAD to every GET


def _documented(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def _operational(path: str) -> bool:
    return path in OPERATIONAL or path.startswith("/openapi/")


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_route_is_documented_and_every_documented_operation_is_routed(service: str, tmp_path: Path) -> None:
    generate_keypair(tmp_path / "private.pem", tmp_path / "public", "k1")
    app = APPS[service](tmp_path)
    routed, documented = _routed(app), _documented(app[OPENAPI])
    assert {(method, path) for method, path in routed if not _operational(path)} <= documented
    assert documented - routed == set()
    assert documented, "a document with operations"
