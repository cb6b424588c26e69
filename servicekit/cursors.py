"""Opaque page cursors over a sequence number (`seq < cursor`, newest first): what a client passes back is only
ever a cursor this service handed out, and anything else is refused, never interpreted."""

from __future__ import annotations

import base64
import binascii

MAX_SEQ = 2**63 - 1  # a PostgreSQL bigint: a larger number was never handed out


class InvalidCursor(Exception):
    """The cursor was not one this service handed out."""


def encode_cursor(prefix: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{prefix}{seq}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidCursor from None
    digits = raw[len(prefix) :]
    if not raw.startswith(prefix) or not digits.isdigit() or len(digits) > len(str(MAX_SEQ)):
        raise InvalidCursor
    seq = int(digits)
    if seq > MAX_SEQ:
        raise InvalidCursor
    return seq
