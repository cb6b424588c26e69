"""webhook_svc's use cases: endpoints (register, change, delete, rotate the secret), keeping events and queueing
their deliveries, deciding what an attempt's result means (done, retry later, give up, disable the endpoint),
and the delivery log with resend and replay.

An endpoint belongs to one user and receives only events about that user's videos: every query is scoped by
owner, and someone else's endpoint is a 404."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from contracts.envelope import Envelope, encode, new_envelope
from contracts.events import EventData, WebhookDeliveryFailedV1, WebhookEndpointDisabledV1
from servicekit import outbox
from webhook_svc import store
from webhook_svc.egress import AddressPolicy, InvalidUrl, TargetRefused, check_url, resolve_and_check
from webhook_svc.sender import AttemptResult
from webhook_svc.signing import new_secret

log = structlog.get_logger(__name__)

SOURCE = "framepipe/webhook_svc"
JITTER = 0.1  # retries of many deliveries that failed together spread over ±10% of their wait


class EndpointNotFound(Exception):
    """No such endpoint for this user (it may be someone else's)."""


class DeliveryNotFound(Exception):
    """No such delivery on this endpoint."""


class EndpointLimitReached(Exception):
    """The user has as many endpoints as allowed."""


class UrlNotAllowed(Exception):
    """The URL cannot receive webhooks (scheme, host, or an address outside the egress policy)."""


class EndpointDisabled(Exception):
    """The endpoint is disabled: enable it before asking for deliveries."""


@dataclass(frozen=True)
class EndpointChanges:
    url: str | None = None
    description: str | None = None
    event_types: list[str] | None = None
    enabled: bool | None = None


async def check_target(policy: AddressPolicy, url: str) -> str:
    try:
        target = check_url(url)
        await resolve_and_check(policy, target.raw_host or "")
    except InvalidUrl as exc:
        raise UrlNotAllowed(str(exc)) from None
    except TargetRefused as exc:
        raise UrlNotAllowed(f"{exc}; webhooks are only sent to public addresses") from None
    except OSError as exc:
        raise UrlNotAllowed(str(exc)) from None
    return url


async def create_endpoint(
    pool: asyncpg.Pool,
    policy: AddressPolicy,
    owner_id: uuid.UUID,
    url: str,
    description: str,
    event_types: list[str],
    max_endpoints: int,
) -> tuple[asyncpg.Record, str]:
    """The new endpoint and its signing secret (shown once, here and at each rotation)."""
    await check_target(policy, url)
    secret = new_secret()
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_owner(conn, owner_id)
        if await store.count_endpoints(conn, owner_id) >= max_endpoints:
            raise EndpointLimitReached(f"at most {max_endpoints} endpoints per user")
        row = await store.insert_endpoint(
            conn, store.NewEndpoint(uuid.uuid4(), owner_id, url, description, sorted(set(event_types)), secret)
        )
    return row, secret


async def list_endpoints(pool: asyncpg.Pool, owner_id: uuid.UUID) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await store.list_endpoints(conn, owner_id)


async def get_endpoint(pool: asyncpg.Pool, owner_id: uuid.UUID, endpoint_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await store.get_endpoint(conn, owner_id, endpoint_id)
    if row is None:
        raise EndpointNotFound
    return row


async def update_endpoint(
    pool: asyncpg.Pool, policy: AddressPolicy, owner_id: uuid.UUID, endpoint_id: uuid.UUID, changes: EndpointChanges
) -> asyncpg.Record:
    if changes.url is not None:
        await check_target(policy, changes.url)
    types = sorted(set(changes.event_types)) if changes.event_types is not None else None
    async with pool.acquire() as conn:
        row = await store.update_endpoint(
            conn,
            owner_id,
            endpoint_id,
            url=changes.url,
            description=changes.description,
            event_types=types,
            enable=changes.enabled,
        )
    if row is None:
        raise EndpointNotFound
    return row


async def delete_endpoint(pool: asyncpg.Pool, owner_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    async with pool.acquire() as conn:
        if not await store.delete_endpoint(conn, owner_id, endpoint_id):
            raise EndpointNotFound


async def rotate_secret(
    pool: asyncpg.Pool, owner_id: uuid.UUID, endpoint_id: uuid.UUID, overlap_hours: float
) -> tuple[asyncpg.Record, str]:
    """A new secret; the previous one keeps signing (a second signature) for `overlap_hours`."""
    secret = new_secret()
    async with pool.acquire() as conn:
        row = await store.rotate_secret(conn, owner_id, endpoint_id, secret, overlap_hours * 3600)
    if row is None:
        raise EndpointNotFound
    return row, secret


async def record_events(conn: asyncpg.Connection, envelopes: Sequence[Envelope[EventData]]) -> int:
    """Keep the events and queue their deliveries; the body kept is the envelope as it will be delivered."""
    kept = [
        store.StoredEvent(e.id, e.type, e.data.owner_id, e.time, encode(e))  # type: ignore[attr-defined]
        for e in envelopes
    ]
    return await store.record_events(conn, kept)


def next_step(result: AttemptResult, round_attempt: int, schedule: Sequence[float]) -> tuple[str, float]:
    """("succeeded" | "pending" | "failed", seconds until the next attempt when pending)."""
    if result.succeeded:
        return "succeeded", 0.0
    if round_attempt > len(schedule):
        return "failed", 0.0
    delay = schedule[round_attempt - 1]
    return "pending", delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 - spreading retries, not secrets


async def record_attempts(
    pool: asyncpg.Pool,
    attempts: Sequence[tuple[store.Claimed, AttemptResult]],
    schedule: Sequence[float],
    disable_after_seconds: float,
) -> None:
    """The results of finished attempts, in one transaction: the attempt log, each delivery's new state, the
    endpoints' health, and the events of deliveries that gave up and endpoints that were disabled."""
    settled = [_settled(claimed, result, schedule) for claimed, result in attempts]
    healthy = sorted({claimed.endpoint_id for claimed, result in attempts if result.succeeded})
    if all(s.status == "succeeded" for s in settled):  # the usual case: one statement, no transaction
        async with pool.acquire() as conn:
            await store.settle(conn, settled, healthy)
        return
    async with pool.acquire() as conn, conn.transaction():
        applied = await store.settle(conn, settled, healthy)
        now_applied = [(c, r, s) for (c, r), s in zip(attempts, settled, strict=True) if c.id in applied]
        events: list[Envelope[EventData]] = [_gave_up(c, r, s) for c, r, s in now_applied if s.status == "failed"]
        failing = {c.endpoint_id: r.error or "error" for c, r, _ in now_applied if not r.succeeded}
        failing = {endpoint: error for endpoint, error in failing.items() if endpoint not in healthy}
        if failing:
            disabled = await store.mark_endpoints_failing(conn, sorted(failing), disable_after_seconds, failing)
            events += [_disabled(row) for row in disabled]
        if events:
            await outbox.enqueue_many(conn, events)


def _settled(claimed: store.Claimed, result: AttemptResult, schedule: Sequence[float]) -> store.Settled:
    status, delay = next_step(result, claimed.round_attempt, schedule)
    return store.Settled(
        claimed.id,
        claimed.attempt,
        status,
        delay,
        result.started_at,
        result.duration_ms,
        result.status_code,
        result.error,
        result.response_body,
    )


def _gave_up(claimed: store.Claimed, result: AttemptResult, settled: store.Settled) -> Envelope[EventData]:
    log.warning("webhook_delivery_failed", delivery_id=str(claimed.id), attempts=claimed.attempt, error=result.error)
    data = WebhookDeliveryFailedV1(
        endpoint_id=claimed.endpoint_id,
        owner_id=claimed.owner_id,
        delivery_id=claimed.id,
        event_id=claimed.event_id,
        delivered_type=claimed.event_type,
        attempts=claimed.attempt,
        last_error=(settled.error or "failed")[:2000],
        failed_at=result.started_at,
    )
    return new_envelope(data, source=SOURCE, causation_id=str(claimed.event_id))


def _disabled(row: asyncpg.Record) -> Envelope[EventData]:
    log.warning("webhook_endpoint_disabled", endpoint_id=str(row["id"]), reason=row["disabled_reason"])
    data = WebhookEndpointDisabledV1(
        endpoint_id=row["id"],
        owner_id=row["owner_id"],
        url=row["url"],
        failing_since=row["failing_since"],
        disabled_at=row["disabled_at"],
        reason=row["disabled_reason"][:2000],
    )
    return new_envelope(data, source=SOURCE)


@dataclass(frozen=True)
class DeliveryPage:
    items: list[asyncpg.Record]
    next_before: int | None


async def list_deliveries(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    limit: int,
    before: int | None,
    status: str | None,
) -> DeliveryPage:
    async with pool.acquire() as conn:
        if await store.get_endpoint(conn, owner_id, endpoint_id) is None:
            raise EndpointNotFound
        rows = await store.list_deliveries(conn, endpoint_id, limit + 1, before, status)
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(rows, rows[-1]["seq"] if more else None)


async def resend(pool: asyncpg.Pool, owner_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _enabled_endpoint(conn, owner_id, endpoint_id)
        if not await store.resend(conn, endpoint_id, delivery_id):
            raise DeliveryNotFound


async def replay(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
    only_undelivered: bool,
) -> int:
    async with pool.acquire() as conn, conn.transaction():
        await _enabled_endpoint(conn, owner_id, endpoint_id)
        return await store.replay(conn, endpoint_id, since, until, only_undelivered)


async def _enabled_endpoint(conn: asyncpg.Connection, owner_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    row = await store.get_endpoint(conn, owner_id, endpoint_id)
    if row is None:
        raise EndpointNotFound
    if not row["enabled"]:
        raise EndpointDisabled


async def prune(pool: asyncpg.Pool, retention_days: float) -> None:
    async with pool.acquire() as conn:
        await store.prune(conn, retention_days)
