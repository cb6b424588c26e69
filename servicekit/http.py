"""HTTP plumbing shared by every service: RFC 9457 problem+json errors with stable codes, request ids and
request logging, `/healthz`, `/readyz` (real dependency checks), `/metrics` and `/openapi.json`."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import structlog
from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel, ValidationError

from servicekit import tracing
from servicekit.clients import Network, client_address, parse_networks
from servicekit.cursors import InvalidCursor
from servicekit.metrics import http_metrics_middleware, metrics_handler
from servicekit.problems import (
    INVALID_CURSOR,
    NOT_FOUND,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    ProblemEntry,
    ProblemTable,
    problem_of,
)
from servicekit.problems import Problem as Problem  # re-exported: services raise it from here
from servicekit.sessions import carries_credentials, served_over_https

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_HEADER = "X-Correlation-ID"
OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_SAFE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")

ReadinessCheck = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Readiness:
    """A dependency check. `required`: the service cannot answer requests without it (503, taken out of the
    load balancer); otherwise a failure is reported as `degraded` with 200 (the broker, for a service whose
    outbox keeps accepting work while the broker is away)."""

    check: ReadinessCheck
    required: bool = True


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, Readiness])
OPENAPI = web.AppKey("openapi", dict[str, Any])
PROBLEMS = web.AppKey("problems", dict[type[Exception], ProblemEntry])
SERVICE_NAME = web.AppKey("service_name", str)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])
CLIENT_ADDRESS = web.RequestKey("client_address", str)
REQUEST_ID = web.RequestKey("request_id", str)
CORRELATION_ID = web.RequestKey("correlation_id", str)


def problem_response(request: web.Request, problem: Problem) -> web.Response:
    body: dict[str, Any] = {
        "type": f"https://framepipe.dev/problems/{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
        "instance": request.path,
        "request_id": request.get(REQUEST_ID),
    }
    if problem.detail:
        body["detail"] = problem.detail
    body.update(problem.extra)
    return web.json_response(body, status=problem.status, content_type=PROBLEM_JSON, headers=problem.headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: NOT_FOUND.code,
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "request_too_large",
    414: "uri_too_long",
    415: UNSUPPORTED_MEDIA_TYPE.code,
    422: VALIDATION_ERROR.code,
    429: "too_many_requests",
    431: "headers_too_large",
}


_UNAVAILABLE = (
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    ConnectionError,
)


def _client_id(value: str | None) -> str | None:
    if value and len(value) <= 128 and set(value) <= _SAFE_ID_CHARS:
        return value
    return None


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Binds request and correlation ids to the log context and answers every error as problem+json."""
    request_id = _client_id(request.headers.get(REQUEST_ID_HEADER)) or str(uuid.uuid4())
    correlation_id = _client_id(request.headers.get(CORRELATION_HEADER)) or request_id
    request[REQUEST_ID] = request_id
    request[CORRELATION_ID] = correlation_id
    trusted: tuple[Network, ...] = request.app[TRUSTED_PROXIES]
    client = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)
    request[CLIENT_ADDRESS] = client
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id, client=client)
    started = time.perf_counter()
    try:
        response = await handler(request)
    except Exception as exc:
        response = _error_response(request, exc)
    response.headers[REQUEST_ID_HEADER] = request_id
    if request.path not in OPERATIONAL_PATHS:
        log.info(
            "http_request",
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
    return response


@web.middleware
async def tracing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A server span per request, continuing the caller's trace (W3C traceparent header) when it sent one."""
    if request.path in OPERATIONAL_PATHS:
        return await handler(request)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    with tracing.TRACER.start_as_current_span(
        f"{request.method} {route}",
        context=tracing.context_of_headers(request.headers),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": request.method, "http.route": route, "url.path": request.path},
        set_status_on_exception=False,
    ) as span:
        response = await handler(request)
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_status(StatusCode.ERROR)
        return response


def _error_response(request: web.Request, exc: Exception) -> web.StreamResponse:
    """Every error as problem+json (a domain error as the app's problem table says, see `add_problems`);
    redirects raised as exceptions pass through."""
    if isinstance(exc, Problem):
        return problem_response(request, exc)
    if (problem := problem_of(request.app[PROBLEMS], exc)) is not None:
        return problem_response(request, problem)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        code = _HTTP_CODES.get(exc.status, "http_error")
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return problem_response(request, Problem(exc.status, code, exc.reason, headers=headers))
    if isinstance(exc, _UNAVAILABLE):
        # A dependency is saturated or down (e.g. the database refuses connections): the client should retry.
        log.warning("dependency_unavailable", path=request.path, error=f"{type(exc).__name__}: {exc}")
        unavailable = Problem(
            503, "service_unavailable", "Service temporarily unavailable.", headers={"Retry-After": "2"}
        )
        return problem_response(request, unavailable)
    log.error("unhandled_error", method=request.method, path=request.path, exc_info=exc)
    return problem_response(request, Problem(500, "internal_error", "Internal Server Error"))


def client_of(request: web.Request) -> str:
    """The client's address (servicekit.clients: through trusted proxies only)."""
    return request.get(CLIENT_ADDRESS) or request.remote or "unknown"


def correlation_id(request: web.Request) -> str:
    """The id that follows this request into every event it causes (client-supplied X-Correlation-ID, or new)."""
    return request.get(CORRELATION_ID) or request.get(REQUEST_ID) or str(uuid.uuid4())


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = request.app[READINESS_CHECKS]
    results = await asyncio.gather(*(_run_check(r.check) for r in checks.values()))
    report = dict(zip(checks, results, strict=True))
    failed = {name for name, result in report.items() if result != "ok"}
    if any(checks[name].required for name in failed):
        return web.json_response({"status": "unavailable", "checks": report}, status=503)
    return web.json_response({"status": "degraded" if failed else "ok", "checks": report})


async def _run_check(check: ReadinessCheck) -> str:
    try:
        async with asyncio.timeout(2.0):
            await check()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(request.app[OPENAPI]), content_type="application/json")


def base_app(
    service: str,
    *,
    openapi_spec: dict[str, Any] | None = None,
    client_max_size: int = 1024**2,
    trusted_proxies: str = "",
) -> web.Application:
    """An application with the shared middlewares and the operational routes. Services add readiness checks
    with `add_readiness_check` and their own routes. `trusted_proxies`: the settings' TRUSTED_PROXIES, whose
    X-Forwarded-For the client address is read from."""
    app = web.Application(
        middlewares=[http_metrics_middleware(service), tracing_middleware, request_context_middleware],  # type: ignore[list-item]
        client_max_size=client_max_size,
    )
    app[SERVICE_NAME] = service
    app[TRUSTED_PROXIES] = parse_networks(trusted_proxies)
    app[READINESS_CHECKS] = {}
    problems: dict[type[Exception], ProblemEntry] = {InvalidCursor: INVALID_CURSOR}  # every paged list's cursor
    app[PROBLEMS] = problems
    app.on_response_prepare.append(protective_headers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    if openapi_spec is not None:
        app[OPENAPI] = openapi_spec
        app.router.add_get("/openapi.json", openapi)
        # The same document under a name of its own, so one origin can route every service's to it.
        app.router.add_get(openapi_path(service), openapi)
    return app


HSTS = "max-age=31536000; includeSubDomains"


async def protective_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no content sniffing; nothing answered to a request with credentials is cached by the
    browser or a proxy (a shared computer, a back button after sign-out); HTTPS only, once reached over it."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if carries_credentials(request):
        response.headers["Cache-Control"] = "no-store"
    if served_over_https(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def openapi_path(service: str) -> str:
    """Where a service's OpenAPI document is found on the one origin: /openapi/auth.json, /openapi/video.json…"""
    return f"/openapi/{service.removesuffix('_svc')}.json"


def add_problems(app: web.Application, table: ProblemTable) -> None:
    """The service's domain errors, answered as problem+json wherever a handler raises them."""
    app[PROBLEMS].update(table)


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck, *, required: bool = True) -> None:
    app[READINESS_CHECKS][name] = Readiness(check, required)


M = TypeVar("M", bound=BaseModel)


async def parse_json(request: web.Request, model: type[M]) -> M:
    """Read a JSON body into a model: 415 for another content type, 400 for malformed JSON, 422 naming the
    fields that are wrong."""
    if request.content_type != "application/json":
        raise UNSUPPORTED_MEDIA_TYPE("Send a JSON body (Content-Type: application/json).")
    try:
        payload = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep to parse
        raise Problem(400, "malformed_json", "The request body is not valid JSON.") from None
    return validate(model, payload)


def validate(model: type[M], payload: Any) -> M:
    """The payload as `model`, or 422 naming every field that is wrong. Text may not contain NUL anywhere: no
    PostgreSQL text column can hold it, so it would only fail later, as a 500."""
    errors = [{"field": field, "message": "contains a NUL character"} for field in _fields_with_nul(payload)]
    if not errors:
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
                for err in exc.errors(include_url=False, include_input=False)
            ]
    fields = ", ".join(e["field"] for e in errors)
    raise VALIDATION_ERROR(f"Invalid: {fields}", errors=errors)


def _fields_with_nul(payload: Any) -> list[str]:
    """Where text (keys included) holds a NUL; iterative, as a parsed body may nest as deep as the parser allows."""
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("body", payload)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            found.append(where)
        elif isinstance(value, dict):
            for key, item in value.items():
                here = str(key) if where == "body" else f"{where}.{key}"
                if "\x00" in str(key):
                    found.append(here)
                pending.append((here, item))
        elif isinstance(value, list):
            pending.extend((f"{where}.{index}", item) for index, item in enumerate(value))
    return sorted(found)
