"""The gateway of `framepipe dev`: one origin in front of the services, routing by webapp.routes as the Compose
proxy and the Ingress do. Bodies stream both ways (a 2 GiB upload, an endless event stream) without being held;
paths and the Host header pass unchanged (the services compare Origin with Host); X-Forwarded-* say who asked.
Several replicas of a service are taken in turn, and a replica that refuses the connection is skipped."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from servicekit.http import REQUEST_ID, REQUEST_ID_HEADER, Problem
from webapp.routes import ROUTES, Target

log = structlog.get_logger(__name__)

CLIENT = web.AppKey("gateway_client", aiohttp.ClientSession)
# Requests that change something never reuse a kept-alive connection: a replica that is stopping may close one
# just as a request is sent on it, and such a request cannot be sent again. On a fresh connection, a refusal
# means nothing was sent (another replica takes it), and an accepted one is served to the end by the graceful
# shutdown.
FRESH_CLIENT = web.AppKey("gateway_fresh_client", aiohttp.ClientSession)
# RFC 9110 §7.6.1: hop-by-hop, never forwarded (Content-Length is recomputed by whoever frames the body).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade"}
)  # fmt: skip
RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHUNK_BYTES = 256 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_session(connect_timeout: float) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=None)

        def session(force_close: bool) -> aiohttp.ClientSession:
            return aiohttp.ClientSession(
                timeout=timeout,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # a proxy keeps no one's cookies
                # limit=0: event streams hold their connections for as long as they live
                connector=aiohttp.TCPConnector(limit=0, force_close=force_close),
            )

        async with session(force_close=False) as kept, session(force_close=True) as fresh:
            app[CLIENT], app[FRESH_CLIENT] = kept, fresh
            yield

    return ctx


def add_routes(app: web.Application, upstreams: Mapping[Target, tuple[str, ...]]) -> None:
    for route in ROUTES:
        if route.target not in upstreams:
            continue
        handler = _proxy(route.target, upstreams[route.target])
        app.router.add_route("*", route.path, handler)
        if route.match == "prefix":
            app.router.add_route("*", f"{route.path.rstrip('/')}/{{tail:.*}}", handler)


def _proxy(service: Target, bases: tuple[str, ...]) -> Handler:
    turns = itertools.cycle(range(len(bases)))

    async def proxy(request: web.Request) -> web.StreamResponse:
        first = next(turns)
        order = bases[first:] + bases[:first]
        upstream = await _send(request, order, service)
        try:
            return await _relay(request, upstream)
        finally:
            upstream.release()

    return proxy


async def _send(request: web.Request, order: tuple[str, ...], service: str) -> aiohttp.ClientResponse:
    session = request.app[CLIENT if request.method in RETRYABLE_METHODS else FRESH_CLIENT]
    headers = _forwarded_headers(request)
    body = request.content.iter_chunked(CHUNK_BYTES) if request.body_exists else None
    for base in order:
        url = URL(base + request.raw_path, encoded=True)
        try:
            return await session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False, skip_auto_headers={"User-Agent"}
            )
        except aiohttp.ClientConnectorError as exc:  # nothing was sent: another replica may answer
            log.warning("upstream_unreachable", service=service, upstream=base, error=str(exc))
        # A replica going away closes (ServerDisconnectedError) or resets (ClientOSError) the connection once the
        # request is sent; only a bodiless request is resent.
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            log.warning("upstream_disconnected", service=service, upstream=base, error=str(exc))
            if body is not None or request.method not in RETRYABLE_METHODS:
                break
    raise Problem(502, "bad_gateway", f"The {service} service is not reachable.", headers={"Retry-After": "2"})


def _forwarded_headers(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
    chain = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    headers["X-Forwarded-For"] = ", ".join([*chain, request.remote or "unknown"])
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    headers[REQUEST_ID_HEADER] = request[REQUEST_ID]  # the gateway's log line and the service's share one id
    return headers


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    for name, value in upstream.headers.items():
        if name.lower() not in HOP_BY_HOP:
            response.headers.add(name, value)
    response.headers.setdefault(REQUEST_ID_HEADER, request[REQUEST_ID])  # the services send the same id back
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; releasing the upstream response closes that side too
    except aiohttp.ClientError as exc:
        # The service broke off mid-body: break the client's connection too, so a cut download or stream is
        # seen as cut, never as complete.
        log.warning("upstream_broke_off", path=request.path, error=f"{type(exc).__name__}: {exc}")
        if request.transport is not None:
            request.transport.abort()
    return response
