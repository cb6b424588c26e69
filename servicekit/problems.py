"""The error a client can act on: rendered as RFC 9457 problem+json (servicekit.http) with a stable `code`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Problem(Exception):
    """An error the client can act on, rendered as problem+json. `code` is stable: clients branch on it."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra
