"""The SMTP edge: sends one message with aiosmtplib (implicit TLS or STARTTLS and authentication as
configured), measures the SMTP latency, and sorts failures into the two kinds that matter to the caller:
retry later (connection refused, timeout, 4xx, authentication or TLS problems, which an operator fixes) or
never (the server rejected this recipient or this message with a 5xx)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
from prometheus_client import Histogram

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
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        """Hand the message over for exactly this recipient (the envelope never comes from the headers)."""
        started = time.perf_counter()
        outcome = "sent"
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

    async def _send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        c = self._config
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=[recipient],
                hostname=c.host,
                port=c.port,
                username=c.username or None,
                password=c.password if c.username else None,
                use_tls=c.use_tls,
                start_tls=c.starttls and not c.use_tls,
                timeout=c.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise _by_code(min(codes, default=451), f"recipient refused: {codes}") from None
        except (aiosmtplib.SMTPDataError, aiosmtplib.SMTPRecipientRefused) as exc:
            raise _by_code(exc.code, f"message refused: {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryDeferred(f"{type(exc).__name__}: {exc}"[:500]) from None


def _by_code(code: int, detail: str) -> Exception:
    return DeliveryRejected(detail) if 500 <= code < 600 else DeliveryDeferred(detail)
