"""The composition root of webapp: the page (static files, no build step) under a strict Content-Security-Policy,
and, when upstreams are configured, the gateway routes in front of the services."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from servicekit.http import base_app
from servicekit.sessions import served_over_https
from webapp import gateway
from webapp.settings import Settings

SERVICE = "webapp"
STATIC = Path(__file__).parent / "static"
INDEX = web.AppKey("index_html", bytes)

# Nothing inline, nothing from elsewhere: scripts, styles, images and requests from this origin only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings) -> web.Application:
    app = base_app(SERVICE, trusted_proxies=settings.trusted_proxies)
    app[INDEX] = (STATIC / "index.html").read_bytes()
    app.on_response_prepare.append(_page_headers)
    app.router.add_get("/", _to_app)
    app.router.add_get("/app", _to_app)
    app.router.add_static("/app/assets", STATIC / "assets")
    app.router.add_get("/app/{view:.*}", _index)
    upstreams = settings.upstreams()
    if upstreams:
        app.cleanup_ctx.append(gateway.client_session(settings.upstream_connect_timeout_seconds))
        gateway.add_routes(app, upstreams)
    return app


async def _to_app(_: web.Request) -> web.Response:
    raise web.HTTPFound("/app/")


async def _index(request: web.Request) -> web.Response:
    """Every view of the page is the same document; its script reads the path (e.g. /app/videos/<id>)."""
    return web.Response(body=request.app[INDEX], content_type="text/html", charset="utf-8")


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path != "/" and request.path != "/app" and not request.path.startswith("/app/"):
        return  # what the gateway relays carries the service's own headers
    response.headers.update(PAGE_HEADERS)
    # The page holds no one's data (a session cookie may come along, but nothing depends on it): cacheable, and
    # revalidated every time, as there is no build step to give files versioned names.
    response.headers["Cache-Control"] = "no-cache"
    if served_over_https(request):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
