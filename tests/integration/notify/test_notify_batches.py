"""notify_svc's outcome batch handler on its own, against real PostgreSQL and an aiosmtpd server: outcomes handled
in one batch each get their own fate, and an outcome that is not sent writes nothing through the batch's
transaction (the consumer releases its inbox claim while the others commit)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from contracts.envelope import Envelope, decode
from contracts.events import EventData, FailureCode, UserRegisteredV1
from contracts.topology import NOTIFY_VIDEO_OUTCOMES
from notify_svc import service
from notify_svc.app import MIGRATIONS
from notify_svc.consumers import outcome_handlers
from notify_svc.emails import Sender, Templates
from notify_svc.mailer import Mailer, SmtpConfig
from notify_svc.service import Notifier, RecipientUnknown
from ops.dev.localinfra import LocalSMTP, MailSink
from servicekit.bus import MessageContext, PermanentError
from servicekit.db import create_pool, migrate
from tests.integration.notify.harness import failed, new_user, now, processed


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    schema = f"notify_{uuid.uuid4().hex[:10]}"
    pool = await create_pool(database_url, schema, min_size=1, max_size=4)
    await migrate(pool, schema, MIGRATIONS)
    yield pool
    async with pool.acquire() as conn:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()


@pytest.fixture
async def notifier(pool: asyncpg.Pool, smtp_server: LocalSMTP) -> AsyncIterator[Notifier]:
    config = SmtpConfig("127.0.0.1", smtp_server.port, None, None, starttls=False, use_tls=False, timeout=3)
    mailer = Mailer(config)
    yield Notifier(
        Templates("en"), mailer, Sender.parse("Framepipe <no-reply@framepipe.local>"), "https://app.test", pool
    )
    await mailer.close()


async def handle(pool: asyncpg.Pool, notifier: Notifier, batch: list[Envelope[EventData]]) -> list[Exception | None]:
    """One batch through the outcome handler, in one transaction, as the batched consumer runs it."""
    handler = outcome_handlers(NOTIFY_VIDEO_OUTCOMES, notifier).handlers["video.processed.v1"]
    async with pool.acquire() as conn, conn.transaction():
        items = [(e.data, MessageContext(e, NOTIFY_VIDEO_OUTCOMES.name, 1, False, conn)) for e in batch]
        return list(await handler(items))


async def register(pool: asyncpg.Pool, user_id: uuid.UUID, address: str) -> None:
    async with pool.acquire() as conn:
        await service.register_recipient(conn, UserRegisteredV1(user_id=user_id, email=address, registered_at=now()))


async def rows(pool: asyncpg.Pool) -> dict[uuid.UUID, Any]:
    async with pool.acquire() as conn:
        found = await conn.fetch("SELECT event_id, status, attempts FROM notifications")
        return {r["event_id"]: (r["status"], r["attempts"]) for r in found}


async def announced(pool: asyncpg.Pool) -> list[uuid.UUID]:
    """The notification.sent.v1 events in the outbox, by the outcome that caused them."""
    async with pool.acquire() as conn:
        bodies = await conn.fetch("SELECT body FROM outbox WHERE event_type = 'notification.sent.v1' ORDER BY id")
    return sorted(uuid.UUID(decode(r["body"]).causationid or "") for r in bodies)


async def test_one_batch_of_outcomes_gives_each_its_own_fate_and_writes_only_for_those_sent(
    pool: asyncpg.Pool, notifier: Notifier, mail_sink: MailSink
) -> None:
    (ada, ada_mail), (bob, bob_mail), (rex, rex_mail) = new_user(), new_user(), new_user()
    stranger, _ = new_user()
    for user_id, address in ((ada, ada_mail), (bob, bob_mail), (rex, rex_mail)):
        await register(pool, user_id, address)
    mail_sink.reject_recipients.add(rex_mail)
    earlier = processed(ada)
    assert await handle(pool, notifier, [earlier]) == [None]

    fresh, unknown = processed(ada), processed(stranger)
    refused, bob_failed = failed(rex, FailureCode.TIMEOUT), failed(bob, FailureCode.INVALID_MEDIA)
    answers = await handle(pool, notifier, [fresh, unknown, refused, earlier, bob_failed])

    assert [answers[0], answers[3], answers[4]] == [None, None, None]  # sent, sent before, sent
    assert isinstance(answers[1], RecipientUnknown)  # retried until the registration arrives
    assert isinstance(answers[2], PermanentError)  # parked
    assert len(mail_sink.to(ada_mail)) == 2  # the earlier one and the fresh one: the earlier not again
    assert len(mail_sink.to(bob_mail)) == 1
    assert mail_sink.to(rex_mail) == []
    log = await rows(pool)
    assert log[fresh.id] == ("sent", 1)
    assert log[earlier.id] == ("sent", 1)
    assert log[bob_failed.id] == ("sent", 1)
    assert log[unknown.id] == ("pending", 1)  # written on the log pool, outside the batch's transaction
    assert log[refused.id] == ("failed", 1)
    assert await announced(pool) == sorted([earlier.id, fresh.id, bob_failed.id])


async def test_an_outcome_left_pending_in_a_batch_is_sent_once_its_owner_is_known(
    pool: asyncpg.Pool, notifier: Notifier, mail_sink: MailSink
) -> None:
    (early, early_mail), (known, known_mail) = new_user(), new_user()
    await register(pool, known, known_mail)
    waiting, other = processed(early), processed(known)
    first = await handle(pool, notifier, [waiting, other])
    await register(pool, early, early_mail)
    second = await handle(pool, notifier, [waiting])  # the retry

    assert isinstance(first[0], RecipientUnknown)
    assert first[1] is None
    assert second == [None]
    assert len(mail_sink.to(early_mail)) == 1
    assert len(mail_sink.to(known_mail)) == 1
    assert (await rows(pool))[waiting.id] == ("sent", 2)
