"""The SMTP edge: sends one message with aiosmtplib (implicit TLS or STARTTLS and authentication as
configured), measures the SMTP latency, and sorts failures into the two kinds that matter to the caller:
retry later (connection refused, timeout, 4xx, authentication or TLS problems, which an operator fixes) or
never (the server rejected this recipient or this message with a 5xx).

Connections are kept open between messages (a few idle ones, for less than servers' usual idle timeout):
connect, TLS, EHLO and AUTH cost more than the transaction itself. A kept connection the server has closed
in the meantime is replaced by a fresh one once; any other error discards the connection."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import aiosmtplib
from opentelemetry.trace import SpanKind
from prometheus_client import Histogram

from servicekit.tracing import TRACER

SMTP_LATENCY = Histogram(
    "notify_smtp_send_seconds",
    "Time to hand one e-mail to the SMTP server (connect, TLS, auth, send)",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class DeliveryDeferred(Exception):
    """The SMTP server could not take the message now; a later attempt may succeed."""


class DeliveryRejected(Exception):
    """The SMTP server refused this message for good (5xx on the recipient or the content)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    use_tls: bool
    timeout: float


class Mailer:
    def __init__(self, config: SmtpConfig, *, max_idle: int = 8, idle_seconds: float = 20.0) -> None:
        self._config = config
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, message: bytes, *, sender: str, recipient: str) -> None:
        """Hand the message over for exactly this recipient (the envelope never comes from the headers)."""
        started = time.perf_counter()
        outcome = "sent"
        attributes: dict[str, str | int] = {"server.address": self._config.host, "server.port": self._config.port}
        with TRACER.start_as_current_span("smtp send", kind=SpanKind.CLIENT, attributes=attributes) as span:
            try:
                await self._send(message, sender, recipient)
            except DeliveryRejected:
                outcome = "rejected"
                raise
            except DeliveryDeferred:
                outcome = "deferred"
                raise
            finally:
                SMTP_LATENCY.labels(outcome).observe(time.perf_counter() - started)
                span.set_attribute("framepipe.smtp.outcome", outcome)

    async def close(self) -> None:
        while self._idle:
            await _quietly_close(self._idle.pop()[0])

    async def _send(self, message: bytes, sender: str, recipient: str) -> None:
        try:
            client, reused = await self._checkout()
            try:
                await client.sendmail(sender, [recipient], message)
            except aiosmtplib.SMTPServerDisconnected:
                await _quietly_close(client)
                if not reused:
                    raise
                client = await self._connect()  # the kept connection had gone stale: once more, fresh
                await client.sendmail(sender, [recipient], message)
            except BaseException:
                await _quietly_close(client)
                raise
            self._checkin(client)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise _by_code(min(codes, default=451), f"recipient refused: {codes}") from None
        except (aiosmtplib.SMTPDataError, aiosmtplib.SMTPRecipientRefused) as exc:
            raise _by_code(exc.code, f"message refused: {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryDeferred(f"{type(exc).__name__}: {exc}"[:500]) from None

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since < self._idle_seconds:
                return client, True
            await _quietly_close(client)
        return await self._connect(), False

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._max_idle and client.is_connected:
            self._idle.append((client, time.monotonic()))
        else:
            client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self._config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            username=c.username or None,
            password=c.password if c.username else None,
            use_tls=c.use_tls,
            start_tls=c.starttls and not c.use_tls,
            timeout=c.timeout,
        )
        await client.connect()
        return client


async def _quietly_close(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        if client.is_connected:
            await client.quit()
    client.close()


def _by_code(code: int, detail: str) -> Exception:
    return DeliveryRejected(detail) if 500 <= code < 600 else DeliveryDeferred(detail)
