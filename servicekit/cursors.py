"""Opaque page cursors, the one codec of every paged list: what a client passes back is only ever a cursor this
service handed out, and anything else is refused (`InvalidCursor`, answered 400 `invalid_cursor`), never
interpreted. Two positions: a sequence number (`seq < cursor`, newest first) and a creation time with the row's
id as tie-breaker (`(created_at, id) < cursor`)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

MAX_SEQ = 2**63 - 1  # a PostgreSQL bigint: a larger number was never handed out


class InvalidCursor(Exception):
    """The cursor was not one this service handed out."""


def encode_cursor(prefix: str, seq: int) -> str:
    return _encode(f"{prefix}{seq}")


def decode_cursor(prefix: str, cursor: str) -> int:
    raw = _decode(cursor)
    digits = raw[len(prefix) :]
    if not raw.startswith(prefix) or not digits.isdigit() or len(digits) > len(str(MAX_SEQ)):
        raise InvalidCursor
    seq = int(digits)
    if seq > MAX_SEQ:
        raise InvalidCursor
    return seq


def encode_time_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return _encode(f"{created_at.isoformat()}|{row_id}")


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    created, _, row_id = _decode(cursor).partition("|")
    try:
        at = datetime.fromisoformat(created)
        position = at, uuid.UUID(row_id)
    except ValueError:
        raise InvalidCursor from None
    if at.tzinfo is None:
        raise InvalidCursor
    return position


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidCursor from None
