"""HTTP: the caller's webhook endpoints (`/webhooks`), their delivery log, resend and replay. Parse and validate,
call service.py, render; someone else's endpoint is a 404."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.topology import WEBHOOK_EVENT_TYPES
from servicekit import cursors
from servicekit.http import Problem, parse_json, validate
from servicekit.runtime import POOL
from servicekit.tokens import authenticated_user
from webhook_svc import service
from webhook_svc.egress import MAX_URL_LENGTH, AddressPolicy

POLICY = web.AppKey("egress_policy", AddressPolicy)
LIMITS = web.AppKey("webhook_limits", dict[str, float])
_CURSOR_PREFIX = "d:"


def _known_types(types: list[str] | None) -> list[str] | None:
    unknown = sorted(set(types or ()) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise ValueError(f"not a webhook event type: {', '.join(unknown)} (one of: {', '.join(WEBHOOK_EVENT_TYPES)})")
    return types


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    event_types: list[str] = Field(min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str = Field(default="", max_length=500)

    _types = field_validator("event_types")(_known_types)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=len(WEBHOOK_EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    _types = field_validator("event_types")(_known_types)

    @model_validator(mode="after")
    def _something(self) -> EndpointPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of url, event_types, description, enabled")
        return self


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime | None = None
    only_undelivered: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> ReplayIn:
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class DeliveriesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=64)
    status: Literal["pending", "succeeded", "failed"] | None = None


_ERRORS: dict[type[Exception], Callable[[Exception], Problem]] = {
    service.EndpointNotFound: lambda _: Problem(404, "webhook_not_found", "No such webhook endpoint."),
    service.DeliveryNotFound: lambda _: Problem(404, "delivery_not_found", "No such delivery on this endpoint."),
    service.EndpointLimitReached: lambda e: Problem(409, "webhook_limit_reached", "Too many endpoints.", str(e)),
    service.UrlNotAllowed: lambda e: Problem(422, "url_not_allowed", "This URL cannot receive webhooks.", str(e)),
    service.EndpointDisabled: lambda _: Problem(
        409, "webhook_disabled", "The endpoint is disabled.", 'Enable it first: PATCH {"enabled": true}.'
    ),
    cursors.InvalidCursor: lambda _: Problem(
        400, "invalid_cursor", "The cursor is not valid.", "Use the next_cursor of a previous page."
    ),
}


@web.middleware
async def domain_errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except tuple(_ERRORS) as exc:
        raise _ERRORS[type(exc)](exc) from None
    return response


def _uuid(request: web.Request, name: str, not_found: Exception) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise not_found from None


def _endpoint_id(request: web.Request) -> uuid.UUID:
    return _uuid(request, "endpoint_id", service.EndpointNotFound())


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def render_endpoint(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "description": row["description"],
        "event_types": list(row["event_types"]),
        "enabled": row["enabled"],
        "failing_since": _iso(row["failing_since"]),
        "disabled_at": _iso(row["disabled_at"]),
        "disabled_reason": row["disabled_reason"],
        "previous_secret_expires_at": _iso(row["previous_secret_expires_at"]),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def render_delivery(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": _iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        "last_attempt_at": _iso(row["last_attempt_at"]),
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "created_at": row["created_at"].isoformat(),
        "finished_at": _iso(row["finished_at"]),
        "attempt_log": json.loads(row["attempt_log"]),
    }


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
    return web.json_response({**render_endpoint(row), "secret": secret}, status=201, headers=location)


async def list_endpoints(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    rows = await service.list_endpoints(request.app[POOL], claims.user_id)
    return web.json_response({"items": [render_endpoint(row) for row in rows]})


async def get_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    row = await service.get_endpoint(request.app[POOL], claims.user_id, _endpoint_id(request))
    return web.json_response(render_endpoint(row))


async def update_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    body = await parse_json(request, EndpointPatch)
    changes = service.EndpointChanges(body.url, body.description, body.event_types, body.enabled)
    row = await service.update_endpoint(request.app[POOL], request.app[POLICY], claims.user_id, endpoint_id, changes)
    return web.json_response(render_endpoint(row))


async def delete_endpoint(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    await service.delete_endpoint(request.app[POOL], claims.user_id, _endpoint_id(request))
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    row, secret = await service.rotate_secret(
        request.app[POOL], claims.user_id, _endpoint_id(request), request.app[LIMITS]["secret_overlap_hours"]
    )
    return web.json_response({**render_endpoint(row), "secret": secret})


async def list_deliveries(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    query = validate(DeliveriesQuery, dict(request.query))
    before = cursors.decode_cursor(_CURSOR_PREFIX, query.cursor) if query.cursor else None
    page = await service.list_deliveries(
        request.app[POOL], claims.user_id, endpoint_id, query.limit, before, query.status
    )
    next_cursor = cursors.encode_cursor(_CURSOR_PREFIX, page.next_before) if page.next_before is not None else None
    return web.json_response({"items": [render_delivery(row) for row in page.items], "next_cursor": next_cursor})


async def resend(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    delivery_id = _uuid(request, "delivery_id", service.DeliveryNotFound())
    await service.resend(request.app[POOL], claims.user_id, endpoint_id, delivery_id)
    return web.json_response({"id": str(delivery_id), "status": "pending"}, status=202)


async def replay(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    endpoint_id = _endpoint_id(request)
    body = await parse_json(request, ReplayIn)
    queued = await service.replay(
        request.app[POOL], claims.user_id, endpoint_id, body.since, body.until, body.only_undelivered
    )
    return web.json_response({"queued": queued}, status=202)


def add_routes(app: web.Application) -> None:
    app.middlewares.append(domain_errors)
    app.router.add_post("/webhooks", create_endpoint)
    app.router.add_get("/webhooks", list_endpoints, allow_head=False)
    app.router.add_get("/webhooks/{endpoint_id}", get_endpoint, allow_head=False)
    app.router.add_patch("/webhooks/{endpoint_id}", update_endpoint)
    app.router.add_delete("/webhooks/{endpoint_id}", delete_endpoint)
    app.router.add_post("/webhooks/{endpoint_id}/rotate-secret", rotate_secret)
    app.router.add_get("/webhooks/{endpoint_id}/deliveries", list_deliveries, allow_head=False)
    app.router.add_post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend", resend)
    app.router.add_post("/webhooks/{endpoint_id}/replay", replay)
