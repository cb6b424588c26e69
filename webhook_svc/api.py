"""HTTP: the caller's webhook endpoints (`/webhooks`), their delivery log, resend and replay. Parse and validate,
call service.py, render; someone else's endpoint is a 404."""

from __future__ import annotations

import json
import uuid

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from servicekit import cursors
from servicekit.http import add_problems, parse_json, validate
from servicekit.problems import ProblemTable, ProblemType
from servicekit.runtime import POOL
from servicekit.tokens import authenticated_user
from webhook_svc import service
from webhook_svc.egress import AddressPolicy
from webhook_svc.requests import DeliveriesQuery, EndpointIn, EndpointPatch, ReplayIn
from webhook_svc.schemas import (
    Delivery,
    DeliveryPage,
    DeliveryQueued,
    Endpoint,
    EndpointList,
    EndpointWithSecret,
    ReplayQueued,
)

POLICY = web.AppKey("egress_policy", AddressPolicy)
LIMITS = web.AppKey("webhook_limits", dict[str, float])
_CURSOR_PREFIX = "d:"
LIMIT_REACHED = ProblemType(409, "webhook_limit_reached", "Too many endpoints.")
URL_NOT_ALLOWED = ProblemType(422, "url_not_allowed", "This URL cannot receive webhooks.")


PROBLEMS: ProblemTable = {
    service.EndpointNotFound: ProblemType(404, "webhook_not_found", "No such webhook endpoint."),
    service.DeliveryNotFound: ProblemType(404, "delivery_not_found", "No such delivery on this endpoint."),
    service.EndpointLimitReached: lambda e: LIMIT_REACHED(str(e)),
    service.UrlNotAllowed: lambda e: URL_NOT_ALLOWED(str(e)),
    service.EndpointDisabled: ProblemType(
        409, "webhook_disabled", "The endpoint is disabled.", 'Enable it first: PATCH {"enabled": true}.'
    ),
}


def _uuid(request: web.Request, name: str, not_found: Exception) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise not_found from None


def _endpoint_id(request: web.Request) -> uuid.UUID:
    return _uuid(request, "endpoint_id", service.EndpointNotFound())


def render_endpoint(row: asyncpg.Record) -> Endpoint:
    return Endpoint.model_validate({**dict(row), "event_types": list(row["event_types"])})


def render_delivery(row: asyncpg.Record) -> Delivery:
    fields = {**dict(row), "attempt_log": json.loads(row["attempt_log"])}
    if row["status"] != "pending":
        fields["next_attempt_at"] = None
    return Delivery.model_validate(fields)


def _json(answer: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(answer.model_dump(mode="json"), status=status, headers=headers)


async def create_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    body = await parse_json(request, EndpointIn)
    row, secret = await service.create_endpoint(
        request.app[POOL],
        request.app[POLICY],
        claims.user_id,
        body.url,
        body.description,
        body.event_types,
        int(request.app[LIMITS]["max_endpoints"]),
    )
    location = {"Location": f"/webhooks/{row['id']}"}
    return _json(EndpointWithSecret(**render_endpoint(row).model_dump(), secret=secret), 201, location)


async def list_endpoints(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    rows = await service.list_endpoints(request.app[POOL], claims.user_id)
    return _json(EndpointList(items=[render_endpoint(row) for row in rows]))


async def get_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    row = await service.get_endpoint(request.app[POOL], claims.user_id, _endpoint_id(request))
    return _json(render_endpoint(row))


async def update_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    body = await parse_json(request, EndpointPatch)
    changes = service.EndpointChanges(body.url, body.description, body.event_types, body.enabled)
    row = await service.update_endpoint(request.app[POOL], request.app[POLICY], claims.user_id, endpoint_id, changes)
    return _json(render_endpoint(row))


async def delete_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    await service.delete_endpoint(request.app[POOL], claims.user_id, _endpoint_id(request))
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    row, secret = await service.rotate_secret(
        request.app[POOL], claims.user_id, _endpoint_id(request), request.app[LIMITS]["secret_overlap_hours"]
    )
    return _json(EndpointWithSecret(**render_endpoint(row).model_dump(), secret=secret))


async def list_deliveries(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    query = validate(DeliveriesQuery, dict(request.query))
    before = cursors.decode_cursor(_CURSOR_PREFIX, query.cursor) if query.cursor else None
    page = await service.list_deliveries(
        request.app[POOL], claims.user_id, endpoint_id, query.limit, before, query.status
    )
    next_cursor = cursors.encode_cursor(_CURSOR_PREFIX, page.next_before) if page.next_before is not None else None
    return _json(DeliveryPage(items=[render_delivery(row) for row in page.items], next_cursor=next_cursor))


async def resend(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    delivery_id = _uuid(request, "delivery_id", service.DeliveryNotFound())
    await service.resend(request.app[POOL], claims.user_id, endpoint_id, delivery_id)
    return _json(DeliveryQueued(id=delivery_id, status="pending"), 202)


async def replay(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    body = await parse_json(request, ReplayIn)
    queued = await service.replay(
        request.app[POOL], claims.user_id, endpoint_id, body.since, body.until, body.only_undelivered
    )
    return _json(ReplayQueued(queued=queued), 202)


def add_routes(app: web.Application) -> None:
    add_problems(app, PROBLEMS)
    app.router.add_post("/webhooks", create_endpoint)
    app.router.add_get("/webhooks", list_endpoints, allow_head=False)
    app.router.add_get("/webhooks/{endpoint_id}", get_endpoint, allow_head=False)
    app.router.add_patch("/webhooks/{endpoint_id}", update_endpoint)
    app.router.add_delete("/webhooks/{endpoint_id}", delete_endpoint)
    app.router.add_post("/webhooks/{endpoint_id}/rotate-secret", rotate_secret)
    app.router.add_get("/webhooks/{endpoint_id}/deliveries", list_deliveries, allow_head=False)
    app.router.add_post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend", resend)
    app.router.add_post("/webhooks/{endpoint_id}/replay", replay)
