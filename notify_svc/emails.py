"""The e-mails themselves: rendering the templates (plain text and HTML, per kind and language) and building a
MIME message that user-controlled text cannot escape from.

Names and file names come from users. They are flattened to one line before they go anywhere (a CR/LF in a
header value would start a new header), HTML-escaped before they go into HTML, and the SMTP envelope
recipients are passed explicitly, never derived from the headers.

The message is written straight to its wire form: one fixed shape (multipart/alternative of a UTF-8 text and
HTML part, each base64) whose every header value is ours or one-lined user text, RFC 2047-encoded when it is
not ASCII. `email.message.EmailMessage` parses each header it is given back into a syntax tree and its
generator re-folds them; building a message that way cost more CPU than handing it to the SMTP server over a
kept connection, and notify_svc is CPU-bound while it drains a burst of outcomes. The tests parse what is
written here with the standard library's parser."""

from __future__ import annotations

import base64
import email.errors
import html
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from string import Template
from typing import Any

from contracts.events import FailureCode, NotificationKind

TEMPLATES_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("en", "pt")
WEBHOOK_DISABLED = "webhook_disabled"


class InvalidAddress(ValueError):
    """An e-mail address we refuse to put in an SMTP envelope or a header."""


@dataclass(frozen=True)
class Letter:
    subject: str
    text: str
    html: str


def one_line(value: str, limit: int = 200) -> str:
    """Control and format characters (CR, LF, NEL, U+2028, NUL…) become spaces; runs of spaces collapse."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value)
    return " ".join(cleaned.split())[:limit]


def mailbox(addr_spec: str) -> str:
    """The address itself if it is one plain `local@domain`, else InvalidAddress."""
    if one_line(addr_spec, 320) != addr_spec or " " in addr_spec:
        raise InvalidAddress("the address contains spaces or control characters")
    try:
        address = Address(addr_spec=addr_spec)
    except (ValueError, IndexError, email.errors.HeaderParseError) as exc:
        raise InvalidAddress(str(exc)) from None
    if not address.username or not address.domain:
        raise InvalidAddress("the address needs a local part and a domain")
    return addr_spec


def message_id_for(event_id: uuid.UUID) -> str:
    """Deterministic per outcome: a re-send after a crash carries the same Message-ID, which mail systems
    use to recognise the duplicate."""
    return f"<{event_id}@framepipe>"


class Templates:
    """The templates of one language, read once at start-up."""

    def __init__(self, language: str, directory: Path = TEMPLATES_DIR) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no templates for language {language!r}")
        self._parts = {
            (kind, part): Template((directory / f"{kind}.{language}.{part}").read_text(encoding="utf-8"))
            for kind in NotificationKind
            for part in ("subject", "txt", "html")
        }
        self._strings: dict[str, Any] = json.loads((directory / f"strings.{language}.json").read_text("utf-8"))
        self._alert = {
            part: Template((directory / f"{WEBHOOK_DISABLED}.{language}.{part}").read_text(encoding="utf-8"))
            for part in ("subject", "txt", "html")
        }

    def processed(
        self, *, name: str | None, video_id: uuid.UUID, filename: str | None, frame_count: int, link: str
    ) -> Letter:
        return self._render(NotificationKind.PROCESSED, name, video_id, filename, link, frame_count=str(frame_count))

    def failed(
        self, *, name: str | None, video_id: uuid.UUID, filename: str | None, code: FailureCode, link: str
    ) -> Letter:
        failure = self._strings["failures"][code.value]
        return self._render(
            NotificationKind.FAILED,
            name,
            video_id,
            filename,
            link,
            reason=failure["reason"],
            next_step=failure["next_step"],
        )

    def webhook_disabled(
        self, *, name: str | None, url: str, endpoint_id: uuid.UUID, reason: str, failing_since: datetime
    ) -> Letter:
        values = {
            "greeting": self._greeting(name),
            "url": one_line(url, 300),
            "endpoint_id": str(endpoint_id),
            "reason": one_line(reason, 500),
            "failing_since": failing_since.strftime("%Y-%m-%d %H:%M UTC"),
            "failing_since_iso": failing_since.isoformat(),
        }
        return _letter(self._alert, values)

    def _render(
        self,
        kind: NotificationKind,
        name: str | None,
        video_id: uuid.UUID,
        filename: str | None,
        link: str,
        **extra: str,
    ) -> Letter:
        values = {"greeting": self._greeting(name), "video": self._video(video_id, filename), "link": link, **extra}
        return _letter({part: self._parts[kind, part] for part in ("subject", "txt", "html")}, values)

    def _greeting(self, name: str | None) -> str:
        clean = one_line(name or "", 100)
        if not clean:
            return str(self._strings["greeting"])
        return Template(self._strings["greeting_named"]).substitute(name=clean)

    def _video(self, video_id: uuid.UUID, filename: str | None) -> str:
        clean = one_line(filename or "", 150)
        if clean:
            return clean
        return Template(self._strings["unnamed_video"]).substitute(short_id=str(video_id)[:8])


def _letter(parts: dict[str, Template], values: dict[str, str]) -> Letter:
    """The three parts filled in; user-controlled values are HTML-escaped for the HTML part only."""
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    return Letter(
        subject=one_line(parts["subject"].substitute(values), 250),
        text=parts["txt"].substitute(values),
        html=parts["html"].substitute(escaped),
    )


@dataclass(frozen=True)
class Sender:
    """MAIL_FROM split into its header form and its envelope address."""

    header: str
    address: str

    @classmethod
    def parse(cls, mail_from: str) -> Sender:
        display, addr = parseaddr(mail_from)
        address = mailbox(addr)
        return cls(header=_address_header(display, address), address=address)


CRLF = "\r\n"
_FOLD_AT = 78  # RFC 5322 §2.1.1: lines SHOULD be at most 78 characters (and MUST be at most 998)


def build_message(
    letter: Letter,
    *,
    sender: Sender,
    recipient: str,
    recipient_name: str | None,
    message_id: str,
    date: Any,
) -> bytes:
    """The whole message as it goes on the wire: 7-bit, CRLF line ends, UTF-8 bodies in base64."""
    boundary = f"=_framepipe_{uuid.uuid4().hex}"
    lines = [
        _header("From", sender.header),
        _header("To", _address_header(recipient_name or "", mailbox(recipient))),
        _header("Subject", _text_header("Subject", one_line(letter.subject, 250))),
        _header("Message-ID", message_id),
        _header("Date", format_datetime(date)),
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    for body, subtype in ((letter.text, "plain"), (letter.html, "html")):
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
            "",
            base64.encodebytes(body.encode("utf-8")).decode("ascii").replace("\n", CRLF).rstrip(CRLF),
        ]
    lines += [f"--{boundary}--", ""]
    return CRLF.join(lines).encode("ascii")


def _header(name: str, value: str) -> str:
    unfolded = value.replace(f"{CRLF} ", " ")
    if not value.isascii() or "\r" in unfolded or "\n" in unfolded:
        raise ValueError(f"header {name} must be ASCII on one (folded) line")
    return f"{name}: {value}"


def _address_header(display_name: str, address: str) -> str:
    name = one_line(display_name, 100)
    if name.isascii():
        return formataddr((name, address))
    return f"{Header(name, 'utf-8').encode(linesep=CRLF)} <{address}>"


def _text_header(name: str, value: str) -> str:
    if value.isascii() and len(name) + 2 + len(value) <= _FOLD_AT:
        return value
    return Header(value, "utf-8" if not value.isascii() else "us-ascii", header_name=name).encode(linesep=CRLF)
