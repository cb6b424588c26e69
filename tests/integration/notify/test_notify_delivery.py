"""notify_svc end to end against real RabbitMQ, PostgreSQL and an aiosmtpd server: one e-mail per outcome,
whatever the broker, the order of events or the SMTP server does."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection

from contracts.events import (
    FailureCode,
)
from notify_svc.settings import Settings
from ops.dev.localinfra import LocalSMTP, MailSink
from servicekit.bus import Publisher
from tests.integration.notify.harness import (
    INTERNAL_DETAIL,
    Notify,
    body,
    failed,
    has_status,
    new_user,
    notification,
    notify_settings,
    processed,
    recipient_known,
    registered,
    running_notify,
    status_of,
)
from tests.support.broker import depth, drain, temp_queue
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys


class DeferringSink(MailSink):
    """The test SMTP sink, plus a temporary (4xx) refusal of whole domains, as a greylisting relay does, and an
    optional delay before each message is accepted (a slow relay)."""

    deferred_domains: set[str]
    data_delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return await super().handle_DATA(server, session, envelope)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.rsplit("@", 1)[-1].lower() in getattr(self, "deferred_domains", set()):
            return "451 4.7.1 greylisted, try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


@pytest.fixture
def mail_sink() -> MailSink:
    sink = DeferringSink()
    sink.deferred_domains = set()
    return sink


@pytest.fixture
def settings(database_url: str, amqp_url: str, smtp_server: LocalSMTP, jwt_keys: JwtKeys) -> Settings:
    return notify_settings(database_url, amqp_url, smtp_server.port, jwt_keys)


async def settled(notify: Notify, amqp: AbstractRobustConnection, event_id: uuid.UUID, status: str = "sent") -> None:
    """The outcome reached `status` and its queue is empty, then a moment for any duplicate to show up."""
    await eventually(lambda: has_status(notify, event_id, status), timeout=20)
    await eventually(lambda: drained(amqp, notify.outcomes.name), timeout=10)
    await asyncio.sleep(0.5)


async def drained(amqp: AbstractRobustConnection, queue: str) -> bool:
    return await depth(amqp, queue) == 0


async def test_a_processed_video_emails_its_owner_once_with_subject_body_link_and_message_id(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    user_id, address = new_user()
    outcome = processed(user_id, frames=42)
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(user_id, address))
        await eventually(lambda: recipient_known(notify, user_id))
        await publisher.publish(outcome)
        await settled(notify, amqp, outcome.id)
        metrics = await (await notify.client.get("/metrics")).text()

    [message] = mail_sink.to(address)
    video = outcome.data.video_id  # type: ignore[attr-defined]
    assert message["Message-ID"] == f"<{outcome.id}@framepipe>"
    assert message["Subject"] == f"Your frames are ready: video {str(video)[:8]}"
    assert message["To"].addresses[0].addr_spec == address
    assert message["To"].addresses[0].display_name == "Ada Lovelace"
    assert message["From"].addresses[0].addr_spec == "no-reply@framepipe.local"
    text = body(message, "plain")
    assert "Hello Ada Lovelace," in text
    assert "42 frames" in text
    assert f"https://app.framepipe.test/app/videos/{video}" in text
    assert f'href="https://app.framepipe.test/app/videos/{video}"' in body(message, "html")
    assert mail_sink.envelopes[-1] == ("no-reply@framepipe.local", [address])
    assert 'notify_emails_total{kind="processed",status="sent"}' in metrics
    assert "notify_smtp_send_seconds_bucket" in metrics


async def test_a_failed_video_emails_the_plain_reason_and_next_step_for_every_failure_code_and_no_internals(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    user_id, address = new_user()
    outcomes = {code: failed(user_id, code) for code in FailureCode}
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(user_id, address, name=None))
        await eventually(lambda: recipient_known(notify, user_id))
        for envelope in outcomes.values():
            await publisher.publish(envelope)
        for envelope in outcomes.values():
            await eventually(lambda envelope=envelope: has_status(notify, envelope.id, "sent"), timeout=20)
        await settled(notify, amqp, envelope.id)

    by_id = {m["Message-ID"]: m for m in mail_sink.to(address)}
    assert len(by_id) == len(mail_sink.to(address)) == len(FailureCode)
    texts = set()
    for code, envelope in outcomes.items():
        message = by_id[f"<{envelope.id}@framepipe>"]
        assert message["Subject"].startswith("We could not process video ")
        text = body(message, "plain")
        assert text.startswith("Hello,")
        assert "What happened: " in text
        assert "What you can try: " in text
        assert INTERNAL_DETAIL not in text
        assert "ffprobe" not in text
        assert code.value not in text
        assert INTERNAL_DETAIL not in body(message, "html")
        texts.add(text.split("What happened: ")[1].split("\n")[0])
    assert len(texts) == len(FailureCode)  # one plain-words reason per code


async def test_an_outcome_delivered_three_times_sends_one_email_and_one_notification_event(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    user_id, address = new_user()
    outcome = processed(user_id)
    async with amqp.channel() as channel:
        sent_events = await temp_queue(channel, "notification.sent.v1")
        async with running_notify(settings, amqp) as notify:
            await publisher.publish(registered(user_id, address))
            await eventually(lambda: recipient_known(notify, user_id))
            for _ in range(3):
                await publisher.publish(outcome)
            await settled(notify, amqp, outcome.id)
            await asyncio.sleep(1.5)  # the outbox relay publishes notification.sent.v1 after the commit
            async with notify.pool.acquire() as conn:
                rows = await conn.fetchval("SELECT count(*) FROM notifications WHERE event_id = $1", outcome.id)
        published = []
        while (message := await sent_events.get(fail=False, no_ack=True)) is not None:
            published.append(message)

    assert len(mail_sink.to(address)) == 1
    assert rows == 1
    assert len(published) == 1
    assert published[0].headers["ce-subject"] == str(user_id)


async def test_an_outcome_before_its_owners_registration_is_emailed_once_the_user_is_known_without_holding_others(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    late_id, late_address = new_user()
    known_id, known_address = new_user()
    early = processed(late_id)
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(early)
        await eventually(lambda: has_status(notify, early.id, "pending"), timeout=10)
        await publisher.publish(registered(known_id, known_address))
        await eventually(lambda: recipient_known(notify, known_id))
        other = processed(known_id)
        await publisher.publish(other)
        await eventually(lambda: mail_sink.to(known_address), timeout=10)
        assert mail_sink.to(late_address) == []  # the other user's e-mail did not wait for this one

        await publisher.publish(registered(late_id, late_address))
        await settled(notify, amqp, early.id)
        row = await notification(notify, early.id)

    assert len(mail_sink.to(late_address)) == 1
    assert row is not None
    assert row["attempts"] >= 2


async def test_smtp_stopped_for_a_while_then_started_delivers_every_pending_email_once_and_other_work_continues(
    settings: Settings,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    mail_sink: MailSink,
    smtp_server: LocalSMTP,
) -> None:
    users = [new_user() for _ in range(4)]
    outcomes = [processed(user_id) for user_id, _ in users]
    async with running_notify(settings, amqp) as notify:
        for user_id, address in users[:3]:
            await publisher.publish(registered(user_id, address))
        for user_id, _ in users[:3]:
            await eventually(lambda user_id=user_id: recipient_known(notify, user_id))
        smtp_server.stop()
        for envelope in outcomes:
            await publisher.publish(envelope)
        for envelope in outcomes:
            await eventually(lambda envelope=envelope: has_status(notify, envelope.id, "pending"), timeout=10)
        # While SMTP is down the service keeps working: a new user is recorded, nothing waits in the main queue.
        await publisher.publish(registered(*users[3]))
        await eventually(lambda: recipient_known(notify, users[3][0]))
        await eventually(lambda: drained(amqp, notify.outcomes.name), timeout=5)
        assert mail_sink.messages == []
        await asyncio.sleep(1.0)
        smtp_server.start()
        for envelope in outcomes:
            await settled(notify, amqp, envelope.id)

    for _, address in users:
        assert len(mail_sink.to(address)) == 1


async def test_database_connections_killed_while_batches_run_lose_no_outcome_and_copies_keep_one_message_id(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: DeferringSink
) -> None:
    users = [new_user() for _ in range(30)]
    outcomes = [processed(user_id) for user_id, _ in users]
    mail_sink.data_delay = 0.05  # batches are still running when the connections go
    async with running_notify(settings, amqp) as notify:
        for user_id, address in users:
            await publisher.publish(registered(user_id, address))
        await eventually(lambda: known_count(notify, len(users)), timeout=15)
        for i, envelope in enumerate(outcomes):
            await publisher.publish(envelope)
            if i in (5, 20):  # a database restart, as the service sees it: every connection dropped at once
                await asyncio.sleep(0.05)
                await kill_connections(settings)
        await eventually(lambda: sent_count(notify, len(outcomes)), timeout=30)
        await eventually(lambda: drained(amqp, notify.outcomes.name), timeout=10)
        await asyncio.sleep(0.5)
        parked = await depth(amqp, notify.outcomes.parking_queue)
        metrics = await (await notify.client.get("/metrics")).text()

    assert parked == 0
    retried = [
        line
        for line in metrics.splitlines()
        if line.startswith("bus_messages_consumed_total") and notify.outcomes.name in line and 'outcome="retry"' in line
    ]
    assert retried, "the killed connections interrupted no batch: the test proved nothing"
    for envelope, (_, address) in zip(outcomes, users, strict=True):
        received = mail_sink.to(address)
        assert received, f"no e-mail for {address}"
        # A batch killed after the SMTP server accepted its messages is sent again: same Message-ID, so the copy
        # is recognisable (decision 0008); nothing else may differ.
        assert {m["Message-ID"] for m in received} == {f"<{envelope.id}@framepipe>"}


async def sent_count(notify: Notify, expected: int) -> bool:
    async with notify.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM notifications WHERE status = 'sent'")) >= expected


async def known_count(notify: Notify, expected: int) -> bool:
    async with notify.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM recipients")) >= expected


async def kill_connections(settings: Settings) -> None:
    admin = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()


async def test_a_domain_that_defers_mail_is_retried_while_other_domains_are_delivered_at_once(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: DeferringSink
) -> None:
    mail_sink.deferred_domains.add("slow.example")
    slow_id, slow_address = new_user("slow.example")
    fast_id, fast_address = new_user("fast.example")
    slow, fast = processed(slow_id), processed(fast_id)
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(slow_id, slow_address))
        await publisher.publish(registered(fast_id, fast_address))
        await eventually(lambda: recipient_known(notify, slow_id))
        await eventually(lambda: recipient_known(notify, fast_id))
        await publisher.publish(slow)
        await publisher.publish(fast)
        await settled(notify, amqp, fast.id)
        assert await status_of(notify, slow.id) == "pending"
        mail_sink.deferred_domains.clear()
        await settled(notify, amqp, slow.id)

    assert len(mail_sink.to(fast_address)) == 1
    assert len(mail_sink.to(slow_address)) == 1


async def test_a_recipient_rejected_permanently_is_logged_failed_and_parked_without_a_retry_loop(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    user_id, address = new_user()
    mail_sink.reject_recipients.add(address)
    outcome = failed(user_id, FailureCode.TIMEOUT)
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(user_id, address))
        await eventually(lambda: recipient_known(notify, user_id))
        await publisher.publish(outcome)
        [parked] = await drain(amqp, notify.outcomes.parking_queue, 1, timeout=15)
        await asyncio.sleep(1.5)  # longer than the first retry delay: a retry would show up now
        row = await notification(notify, outcome.id)
        retrying = [await depth(amqp, notify.outcomes.retry_queue(t)) for t in range(3)]

    assert parked.message_id == str(outcome.id)
    assert parked.headers["x-framepipe-park-reason"] == "permanent_error"
    assert row is not None
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert "550" in row["last_error"]
    assert retrying == [0, 0, 0]
    assert mail_sink.to(address) == []


async def test_an_outcome_that_keeps_failing_is_parked_after_its_attempts_and_logged_failed(
    settings: Settings,
    amqp: AbstractRobustConnection,
    publisher: Publisher,
    mail_sink: MailSink,
    smtp_server: LocalSMTP,
) -> None:
    user_id, address = new_user()
    outcome = processed(user_id)
    async with running_notify(settings, amqp, max_attempts=3) as notify:
        await publisher.publish(registered(user_id, address))
        await eventually(lambda: recipient_known(notify, user_id))
        smtp_server.stop()
        await publisher.publish(outcome)
        [parked] = await drain(amqp, notify.outcomes.parking_queue, 1, timeout=20)
        row = await notification(notify, outcome.id)
        smtp_server.start()

    assert parked.headers["x-framepipe-park-reason"] == "retries_exhausted"
    assert row is not None
    assert row["status"] == "failed"
    assert row["attempts"] == 3
    assert mail_sink.to(address) == []


async def test_a_header_injection_through_the_users_name_or_the_file_name_adds_no_header_and_no_recipient(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher, mail_sink: MailSink
) -> None:
    user_id, address = new_user()
    video_id = uuid.uuid4()
    evil_name = "x\r\nBcc: evil@example.com"
    evil_file = "clip.mp4\r\nBcc: evil2@example.com\r\nX-Injected: yes\r\n\r\nforged body"
    outcome = processed(user_id, video_id, filename=evil_file)
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(user_id, address, name=evil_name))
        await eventually(lambda: recipient_known(notify, user_id))
        await publisher.publish(outcome)
        await settled(notify, amqp, outcome.id)

    [message] = mail_sink.messages
    assert mail_sink.envelopes == [("no-reply@framepipe.local", [address])]
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert [a.addr_spec for a in message["To"].addresses] == [address]
    assert message["Subject"] == "Your frames are ready: clip.mp4 Bcc: evil2@example.com X-Injected: yes forged body"
    assert sorted(message.keys()) == sorted(
        ["From", "To", "Subject", "Message-ID", "Date", "Auto-Submitted", "MIME-Version", "Content-Type"]
    )


async def test_a_registration_with_an_address_that_could_smuggle_smtp_commands_is_parked(
    settings: Settings, amqp: AbstractRobustConnection, publisher: Publisher
) -> None:
    user_id = uuid.uuid4()
    async with running_notify(settings, amqp) as notify:
        await publisher.publish(registered(user_id, "a@example.com>\r\nRCPT TO:<evil@example.com"))
        [parked] = await drain(amqp, notify.directory.parking_queue, 1, timeout=10)
        known = await recipient_known(notify, user_id)

    assert parked.headers["x-framepipe-park-reason"] == "permanent_error"
    assert known is False
