"""Prometheus metrics at the edges: the HTTP middleware, the consumer wrapper, the outbox relay.
Metric objects are module-level (they are not resources); the registry is the process default."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_async.aio.web import server_stats
from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests served", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MESSAGES_CONSUMED = Counter(
    "bus_messages_consumed_total", "Messages handled by outcome", ["service", "queue", "type", "outcome"]
)
HANDLER_LATENCY = Histogram("bus_handler_duration_seconds", "Message handler latency", ["service", "queue", "type"])
BATCH_SIZE = Histogram(
    "bus_batch_size",
    "Messages handed to a batch handler at once",
    ["service", "queue"],
    buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 89),
)
MESSAGES_PUBLISHED = Counter("bus_messages_published_total", "Events published (confirmed)", ["service", "type"])
BROKER_CONNECTS = Counter(
    "bus_broker_connects_total",
    "Connections opened to a broker node (each reconnection or failover adds one)",
    ["service", "node"],
)
OUTBOX_PENDING = Gauge("outbox_pending_events", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox row", ["service"])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def http_metrics_middleware(service: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            key = (request.method, route, status)
            children = cache.get(key)
            if children is None:
                # labels() locks and hashes on every call; the set of routes is small, so resolve each once.
                children = cache[key] = (
                    HTTP_REQUESTS.labels(service, request.method, route, str(status)),
                    HTTP_LATENCY.labels(service, request.method, route),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)

    cache: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
    return middleware


async def metrics_handler(request: web.Request) -> web.Response:
    """Prometheus text exposition of the process registry."""
    response: web.Response = await server_stats(request)
    return response
