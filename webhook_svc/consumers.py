"""Event type -> handler table for webhook_svc's queue: the events of the users' videos are kept and a delivery
is queued for each enabled endpoint subscribed to them, a batch of waiting events in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from contracts import UserDeletedV1
from contracts.topology import WEBHOOK_EVENT_TYPES
from servicekit.bus import Handler, MessageContext
from servicekit.bus.batch import Batched, BatchItem
from webhook_svc import service, store

log = structlog.get_logger(__name__)


def event_handlers() -> Batched:
    async def on_events(items: Sequence[BatchItem]) -> list[Exception | None]:
        await service.record_events(items[0][1].db, [ctx.envelope for _, ctx in items])
        return [None] * len(items)

    return Batched(dict.fromkeys(WEBHOOK_EVENT_TYPES, on_events))


def deletion_handlers() -> dict[str, Handler]:
    async def on_user_deleted(event: UserDeletedV1, ctx: MessageContext) -> None:
        endpoints = await store.forget_owner(ctx.db, event.user_id, event.deleted_at)
        log.info("account_endpoints_deleted", user_id=str(event.user_id), endpoints=endpoints)

    return {UserDeletedV1.event_type: on_user_deleted}
